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
