import Foundation
import TrainyardCore
import TrainyardStore

/// Plain-text tables and waiting output for the CLI.
enum StatusTable {
    static func render(_ records: [JobRecord], now: Date = Date()) -> String {
        let header = ["JOB ID", "NAME", "TEAM", "STATE", "ATTEMPT", "EXIT", "QUEUE WAIT", "RUN TIME", "REASON"]
        let rows = records.map { record in
            [
                record.jobID.rawValue, record.name ?? "-", record.team, record.state.rawValue, String(record.attempt),
                record.exitCode.map(String.init) ?? "-", duration(record.queueWait), duration(record.runTime(now: now)),
                String((record.reason ?? "").prefix(60)),
            ]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func duration(_ seconds: TimeInterval?) -> String {
        guard let seconds else { return "-" }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        if seconds < 3600 { return String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60) }
        return String(format: "%dh%02dm", Int(seconds) / 3600, Int(seconds) % 3600 / 60)
    }
}

/// Follows jobs in the store until they are terminal, printing each state change.
struct JobWaiter {
    let databasePath: String
    let timeout: Double

    /// True when every job SUCCEEDED.
    func wait(for jobs: [(JobID, String)]) async throws -> Bool {
        let started = Date()
        var last: [JobID: JobState] = [:]
        var final: [JobID: JobState] = [:]
        while final.count < jobs.count {
            if Date().timeIntervalSince(started) > timeout {
                printError("timed out after \(Int(timeout)) s waiting for \(jobs.count - final.count) job(s)")
                return false
            }
            if let store = try? JobStore(readingAt: databasePath) {
                for (id, name) in jobs where final[id] == nil {
                    guard let record = try store.job(id), last[id] != record.state else { continue }
                    last[id] = record.state
                    let detail = [record.reason, record.exitCode.map { "exit \($0)" }].compactMap { $0 }.joined(separator: ", ")
                    print(
                        "\(id)  \(name)  \(record.state.rawValue)  \(StatusTable.duration(Date().timeIntervalSince(started)))\(detail.isEmpty ? "" : "  " + detail)"
                    )
                    if record.state.isTerminal { final[id] = record.state }
                }
            }
            if final.count < jobs.count { try await Task.sleep(for: .milliseconds(250)) }
        }
        return final.values.allSatisfy { $0 == .succeeded }
    }
}
