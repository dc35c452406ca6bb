import Foundation
import TrainyardCore

/// How a spend report groups the attempts' costs.
public enum SpendGrouping: Sendable, Equatable {
    case team
    case backend
    case kind
    /// By the value of one spec label (jobs without it form the group with no key).
    case label(String)

    /// Reads `team`, `backend`, `kind` or `label:KEY`; nil for anything else.
    public init?(parameter: String) {
        switch parameter {
        case "team": self = .team
        case "backend": self = .backend
        case "kind": self = .kind
        default:
            guard parameter.hasPrefix("label:"), parameter.count > 6 else { return nil }
            self = .label(String(parameter.dropFirst(6)))
        }
    }

    /// The form `init(parameter:)` reads.
    public var parameter: String {
        switch self {
        case .team: "team"
        case .backend: "backend"
        case .kind: "kind"
        case .label(let key): "label:\(key)"
        }
    }
}

/// Which attempts a spend report adds up: those that ended in `[since, until)`.
public struct SpendQuery: Sendable, Equatable {
    public var since: Date
    public var until: Date
    public var groupBy: SpendGrouping
    /// Only this team's jobs (a team's API key); nil: every team.
    public var team: String?

    public init(since: Date, until: Date, groupBy: SpendGrouping, team: String? = nil) {
        self.since = since
        self.until = until
        self.groupBy = groupBy
        self.team = team
    }
}

/// One group of a spend report.
public struct SpendGroup: Sendable, Equatable, Codable {
    /// The group's team, backend, kind or label value; nil for jobs without the label.
    public var key: String?
    public var costUSD: Double
    /// The exact total, in millionths of a USD.
    public var costMicros: Int64
    public var attempts: Int
    public var jobs: Int
    /// True when some cost in the group is an estimate.
    public var includesEstimates: Bool
}

/// A spend report: its groups (by key) and their total.
public struct SpendReport: Sendable, Equatable {
    public var query: SpendQuery
    public var groups: [SpendGroup]

    public var totalMicros: Int64 { groups.reduce(0) { $0 + $1.costMicros } }
    public var totalUSD: Double { Double(totalMicros) / 1_000_000 }
}

/// One attempt's cost, as a job's page shows it.
public struct AttemptCostRecord: Sendable, Equatable, Codable {
    public var attempt: Int
    public var costUSD: Double
    public var billedSeconds: Double
    public var isEstimate: Bool
    public var backend: String
    public var endedAt: Date
}

extension JobStore {
    /// The costs of the attempts that ended in the query's window, grouped; groups sorted by key.
    public func spend(_ query: SpendQuery) throws -> SpendReport {
        var parameters: [SQLiteValue] = []
        let key: String
        switch query.groupBy {
        case .team: key = "jobs.team"
        case .backend: key = "attempt_costs.backend"
        case .kind: key = "coalesce(jobs.kind, 'unknown')"
        case .label(let label):
            key = "json_extract(jobs.spec_json, '$.labels.' || json_quote(?))"
            parameters.append(.text(label))
        }
        parameters += [.real(query.since.timeIntervalSince1970), .real(query.until.timeIntervalSince1970)]
        var teamCondition = ""
        if let team = query.team {
            teamCondition = " AND jobs.team = ?"
            parameters.append(.text(team))
        }
        let sql = """
            SELECT \(key) AS grp, sum(cost_micros) AS micros, count(*) AS attempts, count(DISTINCT attempt_costs.job_id) AS jobs,
                max(is_estimate) AS estimate
            FROM attempt_costs JOIN jobs ON jobs.job_id = attempt_costs.job_id
            WHERE ended_at >= ? AND ended_at < ?\(teamCondition)
            GROUP BY grp ORDER BY grp
            """
        let groups = try database.read { connection in
            try connection.query(sql, parameters).map { row in
                let micros = row["micros"].int ?? 0
                return SpendGroup(
                    key: row["grp"].string, costUSD: AttemptCost.usd(micros: micros), costMicros: micros, attempts: Int(row["attempts"].int ?? 0),
                    jobs: Int(row["jobs"].int ?? 0), includesEstimates: row["estimate"].int == 1)
            }
        }
        return SpendReport(query: query, groups: groups)
    }

    /// Every cost ever reported, by team and backend (the `trainyard_job_cost_usd_total` counter).
    public func costTotals() throws -> [(team: String, backend: String, costUSD: Double)] {
        try database.read { connection in
            try connection.query(
                """
                SELECT jobs.team AS team, attempt_costs.backend AS backend, sum(cost_micros) AS micros
                FROM attempt_costs JOIN jobs ON jobs.job_id = attempt_costs.job_id GROUP BY 1, 2 ORDER BY 1, 2
                """
            ).map { row in (row["team"].string ?? "", row["backend"].string ?? "", AttemptCost.usd(micros: row["micros"].int ?? 0)) }
        }
    }

    /// The costs a job's attempts reported, first attempt first.
    public func attemptCosts(of jobID: JobID) throws -> [AttemptCostRecord] {
        try database.read { connection in
            try connection.query(
                "SELECT attempt, cost_micros, billed_millis, is_estimate, backend, ended_at FROM attempt_costs WHERE job_id = ? ORDER BY attempt",
                [.text(jobID.rawValue)]
            ).map { row in
                AttemptCostRecord(
                    attempt: Int(row["attempt"].int ?? 0), costUSD: AttemptCost.usd(micros: row["cost_micros"].int ?? 0),
                    billedSeconds: Double(row["billed_millis"].int ?? 0) / 1000, isEstimate: row["is_estimate"].int == 1,
                    backend: row["backend"].string ?? "unknown", endedAt: Date(timeIntervalSince1970: row["ended_at"].double ?? 0))
            }
        }
    }
}
