import Foundation
import TrainyardCore

/// A job as the alert rules see it.
public struct AlertSubject: Sendable, Equatable {
    public var record: JobRecord
    /// From the job's spec (absent until the submit command was read).
    public var maxRuntimeSeconds: Int?
    /// The latest worker observation of the job (any attempt), heartbeats included.
    public var lastObservedAt: Date?

    public init(record: JobRecord, maxRuntimeSeconds: Int? = nil, lastObservedAt: Date? = nil) {
        self.record = record
        self.maxRuntimeSeconds = maxRuntimeSeconds
        self.lastObservedAt = lastObservedAt
    }
}

/// Alert state: unlike jobs, it depends on the aggregator's clock, so it is kept out of
/// `canonicalDump` and is not rebuilt by a replay (a rebuilt store starts with nothing firing).
extension JobStore {
    /// Jobs not finished, and jobs that finished at or after `finishedSince`.
    public func alertSubjects(finishedSince: Date) throws -> [AlertSubject] {
        let select = "SELECT \(Self.jobColumns), json_extract(spec_json, '$.maxRuntimeSeconds') AS max_runtime_seconds, last_observed_at \(Self.jobSource)"
        // Both halves use an index (jobs_by_state, jobs_by_finished): at 200,000 stored jobs this
        // takes about 5 ms where a `state NOT IN (terminal)` scan took about 90 ms.
        let live = JobState.allCases.filter { !$0.isTerminal }.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return try database.read { connection in
            try connection.query(
                "\(select) WHERE state IN (\(live)) UNION ALL \(select) WHERE finished_at >= ? AND state NOT IN (\(live))",
                [.real(finishedSince.timeIntervalSince1970)]
            ).compactMap { row in
                Self.record(row).map { record in
                    AlertSubject(
                        record: record, maxRuntimeSeconds: row["max_runtime_seconds"].int.map(Int.init),
                        lastObservedAt: row["last_observed_at"].double.map(Date.init(timeIntervalSince1970:)))
                }
            }
        }
    }

    /// The alerts firing now, by id.
    public func firingAlerts() throws -> [AlertMessage] {
        try database.read { connection in try Self.firingAlerts(&connection) }
    }

    private static func firingAlerts(_ connection: inout SQLiteConnection) throws -> [AlertMessage] {
        try connection.query("SELECT payload_json FROM alerts_firing ORDER BY alert_id").map { row in
            try AlertCodec.decode(Data((row["payload_json"].string ?? "").utf8))
        }
    }

    /// Makes `active` the firing set: an id not firing yet starts firing, a firing id not in
    /// `active` resolves at `now`. Each change is queued in the alert outbox in the same transaction.
    /// - Returns: the notifications queued (none when nothing changed).
    @discardableResult
    public func updateAlerts(active: [AlertMessage], now: Date) throws -> [AlertMessage] {
        try database.write { connection in
            let firing = Dictionary(uniqueKeysWithValues: try Self.firingAlerts(&connection).map { ($0.alertID, $0) })
            var notifications: [AlertMessage] = []
            for alert in active where firing[alert.alertID] == nil {
                let payload = String(decoding: try AlertCodec.encode(alert), as: UTF8.self)
                try connection.query("INSERT INTO alerts_firing (alert_id, payload_json) VALUES (?, ?)", [.text(alert.alertID), .text(payload)])
                notifications.append(alert)
            }
            let activeIDs = Set(active.map(\.alertID))
            for (id, alert) in firing.sorted(by: { $0.key < $1.key }) where !activeIDs.contains(id) {
                var resolved = alert
                resolved.status = .resolved
                resolved.resolvedAt = now
                try connection.query("DELETE FROM alerts_firing WHERE alert_id = ?", [.text(id)])
                notifications.append(resolved)
            }
            for notification in notifications {
                try connection.query(
                    "INSERT INTO alert_outbox (alert_id, payload_json) VALUES (?, ?)",
                    [.text(notification.alertID), .text(String(decoding: try AlertCodec.encode(notification), as: UTF8.self))])
            }
            return notifications
        }
    }

    /// Alert notifications not yet delivered, oldest first.
    public func pendingAlertNotifications(limit: Int) throws -> [(sequence: Int64, alert: AlertMessage, payload: Data)] {
        try database.read { connection in
            try connection.query("SELECT sequence, payload_json FROM alert_outbox ORDER BY sequence LIMIT ?", [.integer(Int64(max(1, limit)))]).map {
                row in
                let payload = Data((row["payload_json"].string ?? "").utf8)
                return (row["sequence"].int ?? 0, try AlertCodec.decode(payload), payload)
            }
        }
    }

    /// Removes one delivered notification.
    public func deleteAlertNotification(_ sequence: Int64) throws {
        try database.write { connection -> Void in
            try connection.query("DELETE FROM alert_outbox WHERE sequence = ?", [.integer(sequence)])
        }
    }
}
