import Foundation
import TrainyardQuota
import TrainyardStore

/// The front page's "Team quotas" table: each team's running jobs, GPUs and CPUs against its
/// quota, its fair-share weight, and how many of its queued jobs a quota holds back.
struct QuotaPanel: Equatable {
    /// One team's row; `quota` is nil when the aggregator was not given the quotas file.
    struct Row: Equatable {
        var usage: TeamUsage
        var quota: TeamQuota?
    }

    var rows: [Row]

    /// The panel for the teams `principal` sees: those with running or held jobs and those the
    /// quotas file names (a team key also sees its own team's default quota). Nil when quotas
    /// limit nothing and hold nothing.
    init?(usage: [TeamUsage], policy: QuotaPolicy?, principal: Principal) {
        let limits = policy?.limitsAnything == true
        guard limits || usage.contains(where: { $0.heldByQuota > 0 }) else { return nil }
        var teams = Set(usage.map(\.team))
        if let policy, limits {
            teams.formUnion(policy.teams.keys)
            if let own = principal.team { teams.insert(own) }
        }
        let usageByTeam = Dictionary(uniqueKeysWithValues: usage.map { ($0.team, $0) })
        rows = teams.filter(principal.canAccess(team:)).sorted().map { team in
            Row(usage: usageByTeam[team] ?? TeamUsage(team: team), quota: limits ? policy?.quota(team: team) : nil)
        }
        if rows.isEmpty { return nil }
    }

    func render() -> String {
        var table = "<h2>Team quotas</h2><table id=\"quotas\"><thead><tr><th>Team</th><th>Running jobs</th><th>GPUs</th><th>CPUs</th>"
        table += "<th>Held by quota</th><th>Weight</th></tr></thead><tbody>"
        for row in rows {
            let usage = row.usage
            let limit = row.quota?.limit
            table += "<tr data-team=\"\(HTML.escape(usage.team))\"><td>\(HTML.escape(usage.team))</td>"
            table += Self.cell(Double(usage.running), of: limit?.maxAttempts.map(Double.init), resource: "attempts")
            table += Self.cell(Double(usage.gpus), of: limit?.maxGPUs.map(Double.init), resource: "gpus")
            table += Self.cell(usage.cpus, of: limit?.maxCPUs, resource: "cpus")
            table += "<td class=\"num\" data-resource=\"held\">\(usage.heldByQuota)</td>"
            table += "<td class=\"num\">\(row.quota.map { Self.number($0.weight) } ?? "–")</td></tr>"
        }
        table += "</tbody></table>"
        if rows.allSatisfy({ $0.quota == nil }) {
            table += "<p><small>Limits are not shown: start the aggregator with the workers' quotas file (<code>--quotas</code>).</small></p>"
        }
        return table
    }

    /// `3 / 4` (marked when at or above the limit), or the usage alone when nothing limits it.
    private static func cell(_ usage: Double, of limit: Double?, resource: String) -> String {
        guard let limit else { return "<td class=\"num\" data-resource=\"\(resource)\">\(number(usage))</td>" }
        let full = usage >= limit ? " reason" : ""
        return "<td class=\"num\(full)\" data-resource=\"\(resource)\">\(number(usage)) / \(number(limit))</td>"
    }

    /// Whole numbers without a fraction, others with two decimals.
    private static func number(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(format: "%.2f", value)
    }
}
