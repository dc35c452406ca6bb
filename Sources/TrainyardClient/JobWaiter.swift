import Foundation
import TrainyardCore

/// One job's state as `--wait` shows it, from the store or the API.
public struct JobProgressLine: Equatable, Sendable {
    public var state: JobState
    public var detail: String

    public init(state: JobState, detail: String) {
        self.state = state
        self.detail = detail
    }

    /// The detail is the reason and the exit code, those that are known.
    public init(state: JobState, reason: String?, exitCode: Int32?) {
        self.init(state: state, detail: [reason, exitCode.map { "exit \($0)" }].compactMap { $0 }.joined(separator: ", "))
    }
}

/// Follows jobs until they are terminal, or until `timeout` has passed on `clock`. Live (on a
/// terminal) it keeps one line per job (state and elapsed time), redrawn in place; otherwise it
/// writes a plain line per state change.
public struct JobWaiter {
    let timeout: Duration
    let live: Bool
    /// Time since the waiter was made, on its clock.
    let elapsed: @Sendable () -> Duration
    /// Sleeps on the waiter's clock.
    let sleep: @Sendable (Duration) async throws -> Void
    /// Takes each round's output (the CLI prints and flushes it).
    let write: (String) -> Void
    /// The job's current state, or nil while it is not known yet.
    let fetch: (JobID) async throws -> JobProgressLine?

    public init(
        timeout: Duration, live: Bool, clock: some Clock<Duration> = ContinuousClock(), write: @escaping (String) -> Void,
        fetch: @escaping (JobID) async throws -> JobProgressLine?
    ) {
        self.timeout = timeout
        self.live = live
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
        sleep = { try await clock.sleep(for: $0) }
        self.write = write
        self.fetch = fetch
    }

    /// The jobs' final states, or nil when the wait timed out.
    public func wait(for jobs: [(id: JobID, name: String)]) async throws -> [JobID: JobState]? {
        let started = elapsed()
        func waited() -> Duration { elapsed() - started }
        var current: [JobID: JobProgressLine] = [:]
        var drawn = 0
        while true {
            var output = ""
            for job in jobs where current[job.id]?.state.isTerminal != true {
                guard let progress = try await fetch(job.id), progress != current[job.id] else { continue }
                current[job.id] = progress
                if !live { output += line(job, progress, elapsed: waited()) + "\n" }
            }
            if live {
                // Cursor up over the previous drawing, then one cleared line per job.
                if drawn > 0 { output += "\u{1B}[\(drawn)A" }
                for job in jobs {
                    output += "\u{1B}[2K" + (current[job.id].map { line(job, $0, elapsed: waited()) } ?? "\(job.id)  \(job.name)  …") + "\n"
                }
                drawn = jobs.count
            }
            if !output.isEmpty { write(output) }
            if jobs.allSatisfy({ current[$0.id]?.state.isTerminal == true }) {
                return Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, current[$0.id]!.state) })
            }
            if waited() > timeout { return nil }
            try await sleep(.milliseconds(live ? 500 : 250))
        }
    }

    private func line(_ job: (id: JobID, name: String), _ progress: JobProgressLine, elapsed: Duration) -> String {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return
            "\(job.id)  \(job.name)  \(progress.state.rawValue)  \(DurationText.short(seconds))\(progress.detail.isEmpty ? "" : "  " + progress.detail)"
    }
}

/// Durations as the CLI shows them: `4.2s`, `3m07s`, `2h05m`; `-` when unknown.
public enum DurationText {
    public static func short(_ seconds: TimeInterval?) -> String {
        guard let seconds else { return "-" }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        if seconds < 3600 { return String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60) }
        return String(format: "%dh%02dm", Int(seconds) / 3600, Int(seconds) % 3600 / 60)
    }
}
