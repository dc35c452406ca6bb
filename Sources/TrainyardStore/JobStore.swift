import Foundation
import Logging
import TrainyardCore

/// Trainyard's authoritative job state: a materialized view of the requests and events topics.
///
/// `apply` writes a batch of consumed messages and the partitions' next offsets in one
/// transaction, so after a crash the aggregator resumes exactly where the state ends: no event
/// is applied twice or skipped. Everything stored derives from message contents only (no
/// wall-clock of the aggregator), so replaying the topics from offset 0 rebuilds the same file.
public final class JobStore: Sendable {
    let database: SQLiteDatabase
    /// The thread `perform` runs on: SQLite blocks, Swift's cooperative threads must not.
    private let queue = DispatchQueue(label: "trainyard.store")

    /// Opens (and migrates) the store at `path`.
    /// - Throws: `SQLiteError` naming the file when it is not an SQLite database, or is one of
    ///   another program (tables, but not this store's migrations).
    public init(path: String) throws {
        database = try Self.naming(path) { try SQLiteDatabase(path: path) }
        let database = database
        try Self.naming(path) { try StoreMigrations.apply(to: database) }
    }

    /// Opens an existing store for reading only (CLI, API).
    public init(readingAt path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw SQLiteError(code: 14, message: "\(path) does not exist (has the aggregator run?)")
        }
        database = try Self.naming(path) { try SQLiteDatabase(path: path, readOnly: true) }
        let database = database
        try Self.naming(path) {
            guard try StoreMigrations.isStore(database) else {
                throw SQLiteError(code: 26, message: "an SQLite database, but not a Trainyard store (it has no jobs table)")
            }
        }
    }

    /// Runs `body`; an `SQLiteError` it throws says which file it is about.
    private static func naming<Value>(_ path: String, _ body: () throws -> Value) throws -> Value {
        do {
            return try body()
        } catch let error as SQLiteError where !error.message.hasPrefix(path) {
            throw SQLiteError(code: error.code, message: "\(path): \(error.message)")
        }
    }

    /// Runs `body` with this store on the store's own serial queue, so that SQLite's blocking
    /// calls (disk, locks, busy waits) never hold one of Swift's cooperative threads.
    public func perform<Value: Sendable>(_ body: @escaping @Sendable (JobStore) throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(self) }) }
        }
    }

    // MARK: writing

    /// Next offset to read per (topic, partition).
    public func consumedOffsets() throws -> [String: [Int32: Int64]] {
        try database.read { connection in
            var offsets: [String: [Int32: Int64]] = [:]
            for row in try connection.query("SELECT topic, partition, next_offset FROM consumed_offsets") {
                guard let topic = row["topic"].string, let partition = row["partition"].int, let next = row["next_offset"].int else { continue }
                offsets[topic, default: [:]][Int32(truncatingIfNeeded: partition)] = next
            }
            return offsets
        }
    }

    /// Status messages not yet published, oldest first (the status topic's outbox).
    public func pendingStatus(limit: Int) throws -> [(sequence: Int64, jobID: JobID, payload: Data)] {
        try database.read { connection in
            try connection.query(
                "SELECT sequence, job_id, payload_json FROM status_outbox ORDER BY sequence LIMIT ?", [.integer(Int64(max(1, limit)))]
            ).compactMap { row in
                guard let sequence = row["sequence"].int, let jobID = row["job_id"].string.flatMap(JobID.init),
                    let payload = row["payload_json"].string
                else { return nil }
                return (sequence, jobID, Data(payload.utf8))
            }
        }
    }

    /// Removes the outbox rows up to and including `sequence`, once they are published.
    public func deleteStatus(through sequence: Int64) throws {
        try database.write { connection -> Void in
            try connection.query("DELETE FROM status_outbox WHERE sequence <= ?", [.integer(sequence)])
        }
    }

    /// Number of status messages not yet published.
    public func pendingStatusCount() throws -> Int {
        try database.read { connection in Int(try connection.query("SELECT count(*) AS count FROM status_outbox").first?["count"].int ?? 0) }
    }

    /// Job counts by (state, team, backend), from the counts kept at write time (a few rows,
    /// whatever the number of jobs).
    public func jobCounts() throws -> [(state: JobState, team: String, backend: String, count: Int)] {
        try database.read { connection in
            try connection.query("SELECT state, team, backend, count FROM job_counts ORDER BY 1, 2, 3").compactMap { row in
                guard let state = row["state"].string.flatMap(JobState.init(rawValue:)) else { return nil }
                return (state, row["team"].string ?? "", row["backend"].string ?? "none", Int(row["count"].int ?? 0))
            }
        }
    }

    func attemptStatus(_ jobID: JobID, _ attempt: Int, _ connection: inout SQLiteConnection) throws -> AttemptStatus? {
        guard
            let row = try connection.query(
                "SELECT decisive_json, first_seen_json, last_seen, resource_name FROM attempts WHERE job_id = ? AND attempt = ?",
                [.text(jobID.rawValue), .integer(Int64(attempt))]
            ).first
        else { return nil }
        return try Self.attemptStatus(row)
    }

    // MARK: reading

    /// The columns `record` reads, by name.
    static let jobColumns = """
        jobs.job_id AS job_id, team, name, kind, requested_backend, submitted_at, cancel_requests.requested_at AS cancel_requested_at,
            attempt, state, state_source, backend, resource_name, exit_code, failure_class, jobs.reason AS reason, claimed_at, started_at,
            finished_at, updated_at,
            (SELECT sum(cost_micros) FROM attempt_costs WHERE attempt_costs.job_id = jobs.job_id) AS cost_micros
        """
    /// The jobs table with the cancel request joined in.
    static let jobSource = "FROM jobs LEFT JOIN cancel_requests ON cancel_requests.job_id = jobs.job_id"
    static let jobSelect = "SELECT \(jobColumns) \(jobSource)"

    public func job(_ jobID: JobID) throws -> JobRecord? {
        try database.read { connection in try job(jobID, &connection) }
    }

    private func job(_ jobID: JobID, _ connection: inout SQLiteConnection) throws -> JobRecord? {
        try connection.query("\(Self.jobSelect) WHERE jobs.job_id = ?", [.text(jobID.rawValue)]).first.flatMap(Self.record)
    }

    /// Every event stored for a job, including reports that lost to a higher authority.
    public func events(of jobID: JobID) throws -> [StoredEvent] {
        try database.read { connection in
            try connection.query(
                "SELECT topic, partition, offset, payload_json FROM job_events WHERE job_id = ? ORDER BY occurred_at, topic, partition, offset",
                [.text(jobID.rawValue)]
            ).map { row in
                StoredEvent(
                    position: MessagePosition(
                        topic: row["topic"].string ?? "", partition: Int32(truncatingIfNeeded: row["partition"].int ?? 0),
                        offset: row["offset"].int ?? 0),
                    event: try LifecycleEventCodec.decode(Data((row["payload_json"].string ?? "").utf8)))
            }
        }
    }

    /// Every stored fact in a canonical text form: two stores are equal when their dumps are.
    /// Consumed offsets are left out (a replay may stop at another point of an idle topic), and
    /// so is the status outbox (what is still unsent depends on timing, not on the messages).
    public func canonicalDump() throws -> String {
        try database.read { connection in
            var lines: [String] = []
            for table in [
                "jobs ORDER BY job_id", "cancel_requests ORDER BY job_id", "attempts ORDER BY job_id, attempt",
                "attempt_costs ORDER BY job_id, attempt",
                "job_events ORDER BY topic, partition, offset", "rejected_messages ORDER BY topic, partition, offset",
            ] {
                for row in try connection.query("SELECT * FROM \(table)") {
                    lines.append(table.prefix { $0 != " " } + ": " + row.values.map { "\($0)" }.joined(separator: " | "))
                }
            }
            return lines.joined(separator: "\n")
        }
    }

    /// The record of a row selected with `jobColumns`; nil for a row this build cannot read.
    static func record(_ row: SQLiteRow) -> JobRecord? {
        guard let jobID = row["job_id"].string.flatMap(JobID.init), let state = row["state"].string.flatMap(JobState.init(rawValue:)) else {
            return nil
        }
        func date(_ column: String) -> Date? { row[column].double.map(Date.init(timeIntervalSince1970:)) }
        return JobRecord(
            jobID: jobID, team: row["team"].string ?? "", name: row["name"].string, kind: row["kind"].string,
            requestedBackend: row["requested_backend"].string, submittedAt: date("submitted_at"), cancelRequestedAt: date("cancel_requested_at"),
            attempt: Int(row["attempt"].int ?? 0), state: state,
            stateSource: row["state_source"].string.flatMap(EventSource.init(rawValue:)) ?? .aggregator, backend: row["backend"].string,
            resourceName: row["resource_name"].string, exitCode: row["exit_code"].int.map { Int32(truncatingIfNeeded: $0) },
            failureClass: row["failure_class"].string.flatMap(FailureClass.init(rawValue:)), reason: row["reason"].string,
            claimedAt: date("claimed_at"), startedAt: date("started_at"), finishedAt: date("finished_at"),
            updatedAt: date("updated_at") ?? Date(timeIntervalSince1970: 0), costUSD: row["cost_micros"].int.map(AttemptCost.usd(micros:)))
    }
}
