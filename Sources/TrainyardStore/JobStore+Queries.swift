import Foundation
import TrainyardCore

/// Which jobs a listing shows (the HTTP API's filters), one page at a time.
public struct JobQuery: Sendable {
    public var team: String?
    public var state: JobState?
    /// The backend that ran the latest attempt, else the one the spec asked for.
    public var backend: String?
    public var kind: String?
    /// A label the spec carries, with this exact value.
    public var label: (key: String, value: String)?
    /// Only jobs submitted at or after this time.
    public var createdSince: Date?
    /// Only jobs whose id sorts before this one (the page after a cursor).
    public var before: JobID?
    public var limit: Int

    public init(
        team: String? = nil, state: JobState? = nil, backend: String? = nil, kind: String? = nil, label: (key: String, value: String)? = nil,
        createdSince: Date? = nil, before: JobID? = nil, limit: Int = 100
    ) {
        self.team = team
        self.state = state
        self.backend = backend
        self.kind = kind
        self.label = label
        self.createdSince = createdSince
        self.before = before
        self.limit = limit
    }
}

extension JobStore {
    /// Jobs matching `query`, newest id first (fresh ids start with their submission time; ids
    /// derived from an idempotency key sort by their hash). The order never changes for a given
    /// set of jobs, so a cursor (the last id of a page) resumes exactly after it.
    public func jobs(matching query: JobQuery) throws -> [JobRecord] {
        var conditions: [String] = []
        var parameters: [SQLiteValue] = []
        func add(_ condition: String, _ values: SQLiteValue...) {
            conditions.append(condition)
            parameters.append(contentsOf: values)
        }
        if let team = query.team { add("team = ?", .text(team)) }
        if let state = query.state { add("state = ?", .text(state.rawValue)) }
        if let backend = query.backend { add("coalesce(backend, requested_backend) = ?", .text(backend)) }
        if let kind = query.kind { add("kind = ?", .text(kind)) }
        if let label = query.label {
            // `$.labels."key"`: json_quote makes any key a valid path member.
            add("json_extract(spec_json, '$.labels.' || json_quote(?)) = ?", .text(label.key), .text(label.value))
        }
        if let since = query.createdSince { add("submitted_at >= ?", .real(since.timeIntervalSince1970)) }
        if let before = query.before { add("jobs.job_id < ?", .text(before.rawValue)) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        parameters.append(.integer(Int64(max(1, query.limit))))
        return try database.read { connection in
            try connection.query("\(Self.jobSelect) \(whereClause) ORDER BY jobs.job_id DESC LIMIT ?", parameters).compactMap(Self.record)
        }
    }

    /// The spec a job was submitted with (nil until its submit command was read).
    public func spec(of jobID: JobID) throws -> JobSpec? {
        let text = try database.read { connection in
            try connection.query("SELECT spec_json FROM jobs WHERE job_id = ?", [.text(jobID.rawValue)]).first?["spec_json"].string
        }
        return try text.map { try WireFormat.decoder().decode(JobSpec.self, from: Data($0.utf8)) }
    }

    /// Every attempt of a job, first attempt first (attempt 0 is the request itself: QUEUED).
    public func attempts(of jobID: JobID) throws -> [AttemptStatus] {
        try database.read { connection in
            let numbers = try connection.query("SELECT attempt FROM attempts WHERE job_id = ? ORDER BY attempt", [.text(jobID.rawValue)])
                .compactMap { $0["attempt"].int.map(Int.init) }
            return try numbers.compactMap { try attemptStatus(jobID, $0, &connection) }
        }
    }

    /// Jobs that finished at or after `since`, by terminal state (one team's, or everyone's).
    public func finishedCounts(since: Date, team: String? = nil) throws -> [JobState: Int] {
        try database.read { connection in
            var sql = "SELECT state, count(*) AS count FROM jobs WHERE finished_at >= ?"
            var parameters: [SQLiteValue] = [.real(since.timeIntervalSince1970)]
            if let team {
                sql += " AND team = ?"
                parameters.append(.text(team))
            }
            var counts: [JobState: Int] = [:]
            for row in try connection.query(sql + " GROUP BY state", parameters) {
                if let state = row["state"].string.flatMap(JobState.init(rawValue:)) { counts[state] = Int(row["count"].int ?? 0) }
            }
            return counts
        }
    }

    /// True when the store answers a query (readiness).
    public func isReachable() -> Bool {
        (try? database.read { connection in try connection.query("SELECT 1").count }) == 1
    }
}
