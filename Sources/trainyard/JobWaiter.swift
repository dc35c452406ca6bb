import Foundation
import Glibc
import TrainyardCore
import TrainyardStore

/// One job's state as `--wait` shows it, from the store or the API.
struct JobProgressLine: Equatable {
    var state: JobState
    var detail: String
}

/// Follows jobs until they are terminal. On a terminal it keeps one live line per job (state and
/// elapsed time, redrawn in place); otherwise it prints a plain line per state change.
struct JobWaiter {
    let timeout: Double
    /// The job's current state, or nil while it is not known yet.
    let fetch: (JobID) async throws -> JobProgressLine?
    var live = isatty(STDOUT_FILENO) == 1

    /// Reads job states from the aggregator's store (the embedded default).
    static func store(databasePath: String, timeout: Double) -> JobWaiter {
        /// Opened once, as soon as the aggregator has created the file, then reused for every read.
        final class OpenedStore {
            var store: JobStore?
        }
        let opened = OpenedStore()
        return JobWaiter(timeout: timeout) { id in
            if opened.store == nil { opened.store = try? JobStore(readingAt: databasePath) }
            guard let record = try? opened.store?.job(id) else { return nil }
            return JobProgressLine(state: record.state, detail: detail(reason: record.reason, exitCode: record.exitCode))
        }
    }

    /// Reads job states through the HTTP API.
    static func api(_ client: APIClient, timeout: Double) -> JobWaiter {
        JobWaiter(timeout: timeout) { id in
            try await client.job(id).map { JobProgressLine(state: $0.state, detail: detail(reason: $0.reason, exitCode: $0.exitCode)) }
        }
    }

    static func detail(reason: String?, exitCode: Int32?) -> String {
        [reason, exitCode.map { "exit \($0)" }].compactMap { $0 }.joined(separator: ", ")
    }

    /// The jobs' final states, or nil when the wait timed out.
    func wait(for jobs: [(id: JobID, name: String)]) async throws -> [JobID: JobState]? {
        let started = Date()
        var current: [JobID: JobProgressLine] = [:]
        var drawn = 0
        while true {
            var changed = false
            for job in jobs where current[job.id]?.state.isTerminal != true {
                guard let progress = try await fetch(job.id), progress != current[job.id] else { continue }
                current[job.id] = progress
                changed = true
                if !live { print(line(job, progress, elapsed: Date().timeIntervalSince(started))) }
            }
            if live {
                // Cursor up over the previous drawing, then one cleared line per job.
                if drawn > 0 { print("\u{1B}[\(drawn)A", terminator: "") }
                for job in jobs {
                    let text = current[job.id].map { line(job, $0, elapsed: Date().timeIntervalSince(started)) } ?? "\(job.id)  \(job.name)  …"
                    print("\u{1B}[2K" + text)
                }
                drawn = jobs.count
                fflush(nil)  // all streams: `stdout` itself is not concurrency-safe to name
            } else if changed {
                fflush(nil)  // all streams: `stdout` itself is not concurrency-safe to name
            }
            if jobs.allSatisfy({ current[$0.id]?.state.isTerminal == true }) {
                return Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, current[$0.id]!.state) })
            }
            if Date().timeIntervalSince(started) > timeout { return nil }
            try await Task.sleep(for: .milliseconds(live ? 500 : 250))
        }
    }

    private func line(_ job: (id: JobID, name: String), _ progress: JobProgressLine, elapsed: TimeInterval) -> String {
        "\(job.id)  \(job.name)  \(progress.state.rawValue)  \(StatusTable.duration(elapsed))\(progress.detail.isEmpty ? "" : "  " + progress.detail)"
    }
}
