import Foundation
import TrainyardClient
import TrainyardCore
import TrainyardStore

/// Plain-text tables and waiting output for the CLI.
enum StatusTable {
    static func render(_ records: [JobRecord], now: Date = Date()) -> String {
        let header = ["JOB ID", "NAME", "TEAM", "STATE", "ATTEMPT", "EXIT", "QUEUE WAIT", "RUN TIME", "REASON"]
        let rows = records.map { record in
            [
                record.jobID.rawValue, record.name ?? "-", record.team, record.state.rawValue, String(record.attempt),
                record.exitCode.map(String.init) ?? "-", DurationText.short(record.queueWait), DurationText.short(record.runTime(now: now)),
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
}
