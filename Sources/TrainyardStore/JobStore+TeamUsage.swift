import Foundation
import TrainyardCore

/// One team's usage as the store's job states show it: what its claimed-to-running jobs asked
/// for, and how many of its queued jobs a team quota holds back.
public struct TeamUsage: Sendable, Equatable {
    public var team: String
    /// Jobs claimed and not ended (CLAIMED, PROVISIONING, PENDING, RUNNING).
    public var running: Int
    /// GPUs and CPUs those jobs' specs request.
    public var gpus: Int
    public var cpus: Double
    /// QUEUED jobs whose reason is a team quota (`team quota: 4 of 4 running`).
    public var heldByQuota: Int

    public init(team: String, running: Int = 0, gpus: Int = 0, cpus: Double = 0, heldByQuota: Int = 0) {
        self.team = team
        self.running = running
        self.gpus = gpus
        self.cpus = cpus
        self.heldByQuota = heldByQuota
    }
}

extension JobStore {
    /// Usage of every team with running or held jobs (or of `team` only), by team name.
    ///
    /// This is the store's view: a worker's quota decisions come from the claims topic, which
    /// sees a grant a moment before the job's CLAIMED event arrives here.
    public func teamUsage(team: String? = nil) throws -> [TeamUsage] {
        let running = "state IN ('CLAIMED', 'PROVISIONING', 'PENDING', 'RUNNING')"
        var sql = """
            SELECT team, SUM(\(running)) AS running,
                SUM(CASE WHEN \(running) THEN COALESCE(json_extract(spec_json, '$.resources.gpu'), 0) ELSE 0 END) AS gpus,
                SUM(CASE WHEN \(running) THEN COALESCE(json_extract(spec_json, '$.resources.cpu'), 1) ELSE 0 END) AS cpus,
                SUM(state = 'QUEUED' AND reason LIKE 'team quota%') AS held
            FROM jobs WHERE (\(running) OR (state = 'QUEUED' AND reason LIKE 'team quota%'))
            """
        var parameters: [SQLiteValue] = []
        if let team {
            sql += " AND team = ?"
            parameters.append(.text(team))
        }
        sql += " GROUP BY team ORDER BY team"
        return try database.read { connection in
            try connection.query(sql, parameters).map { row in
                TeamUsage(
                    team: row["team"].string ?? "", running: Int(row["running"].int ?? 0), gpus: Int(row["gpus"].int ?? 0),
                    cpus: row["cpus"].double ?? 0, heldByQuota: Int(row["held"].int ?? 0))
            }
        }
    }
}
