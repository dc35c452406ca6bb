import ArgumentParser
import Foundation
import TrainyardAPI
import TrainyardCore
import TrainyardStore

/// `trainyard spend [--since T] [--until T] [--group-by team|backend|kind|label:KEY] [--team T] [--json]`
struct ShowSpend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spend", abstract: "What the attempts that ended in a window cost, grouped (read from the store).",
        discussion: """
            Costs are the target's price × the attempt's billed time, reported by the worker that ran it \
            (docs/spend.md); a group marked * includes estimates. Exit status: 0; 2 for invalid options.
            """)

    @OptionGroup var options: CommonOptions

    @Option(help: "Start of the window, a timestamp like 2026-12-01T00:00:00Z (default: 30 days before --until).")
    var since: String?

    @Option(help: "End of the window, exclusive (default: now).")
    var until: String?

    @Option(name: .customLong("group-by"), help: "team, backend, kind or label:KEY.")
    var groupBy = "team"

    @Option(help: "Only this team's jobs.")
    var team: String?

    @Flag(help: "Print the report as the API's JSON.")
    var json = false

    func run() async throws {
        let pairs = [("since", since), ("until", until), ("groupBy", groupBy), ("team", team)].compactMap { name, value in
            value.map { (name: name, value: $0) }
        }
        let parameters: SpendParameters
        do {
            parameters = try SpendParameters(pairs, now: Date())
        } catch {
            printError(
                ([error.message] + error.fields.map { "--\($0.field == "groupBy" ? "group-by" : $0.field) \($0.message)" }).joined(separator: "\n"))
            throw ExitCode(2)
        }
        let store = try JobStore(readingAt: options.databasePath)
        let report = try store.spend(
            SpendQuery(since: parameters.since, until: parameters.until, groupBy: parameters.groupBy, team: parameters.team))
        if json {
            print(String(decoding: try SpendResponse.encode(report), as: UTF8.self))
        } else {
            print(SpendTable.render(report))
        }
    }
}

/// The plain-text spend table: one row per group, then the total.
enum SpendTable {
    static func render(_ report: SpendReport) -> String {
        let header = [report.query.groupBy.parameter.uppercased(), "COST (USD)", "ATTEMPTS", "JOBS"]
        func money(_ usd: Double, estimate: Bool) -> String { String(format: "%.4f", usd) + (estimate ? "*" : "") }
        let rows =
            report.groups.map { group in
                [group.key ?? "(none)", money(group.costUSD, estimate: group.includesEstimates), String(group.attempts), String(group.jobs)]
            } + [
                [
                    "TOTAL", money(report.totalUSD, estimate: report.groups.contains(where: \.includesEstimates)),
                    String(report.groups.reduce(0) { $0 + $1.attempts }), String(report.groups.reduce(0) { $0 + $1.jobs }),
                ]
            ]
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        let window = "spend from \(WireFormat.formatTimestamp(report.query.since)) to \(WireFormat.formatTimestamp(report.query.until))"
        let lines = ([header] + rows).map { row in
            row.enumerated().map { column, cell in
                column == 0
                    ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }
        let note = report.groups.contains(where: \.includesEstimates) ? ["* includes estimates (docs/spend.md)"] : []
        return ([window] + lines + note).joined(separator: "\n")
    }
}
