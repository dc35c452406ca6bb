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

    /// Opens (and migrates) the store at `path`.
    public init(path: String) throws {
        database = try SQLiteDatabase(path: path)
        try StoreMigrations.apply(to: database)
    }

    /// Opens an existing store for reading only (CLI, API).
    public init(readingAt path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw SQLiteError(code: 14, message: "\(path) does not exist (has the aggregator run?)")
        }
        database = try SQLiteDatabase(path: path, readOnly: true)
    }

    // MARK: writing

    /// Next offset to read per (topic, partition).
    public func consumedOffsets() throws -> [String: [Int32: Int64]] {
        try database.read { connection in
            var offsets: [String: [Int32: Int64]] = [:]
            for row in try connection.query("SELECT topic, partition, next_offset FROM consumed_offsets") {
                offsets[row[0].string!, default: [:]][Int32(row[1].int!)] = row[2].int!
            }
            return offsets
        }
    }

    /// Applies `messages` (in order) and advances the consumed offsets, in one transaction.
    /// Messages at or below an offset already consumed are skipped.
    ///
    /// Each message that changes a job's status (`JobStatusMessage`) also adds the new status to
    /// the status outbox, in the same transaction: one row per change, so the status topic shows
    /// every state a job passes through even when one batch holds several.
    /// - Returns: the jobs the batch touched, with their state before the batch.
    @discardableResult
    public func apply(_ messages: [IngestMessage]) throws -> [JobTransition] {
        guard !messages.isEmpty else { return [] }
        return try database.write { connection in
            var next: [MessagePosition: Int64] = [:]
            var changed: [JobID: JobRecord] = [:]
            var before: [JobID: JobState?] = [:]
            // The status of each job the batch touched, as of the last message applied.
            var status: [JobID: JobStatusMessage] = [:]
            for message in messages {
                let key = MessagePosition(topic: message.position.topic, partition: message.position.partition, offset: 0)
                if next[key] == nil {
                    next[key] =
                        try connection.query(
                            "SELECT next_offset FROM consumed_offsets WHERE topic = ? AND partition = ?",
                            [.text(key.topic), .integer(Int64(key.partition))]
                        ).first?[0].int ?? 0
                }
                guard message.position.offset >= next[key]! else { continue }
                next[key] = message.position.offset + 1
                if let jobID = message.record.jobID, before[jobID] == nil {
                    let record = try job(jobID, &connection)
                    before[jobID] = .some(record?.state)
                    status[jobID] = record.map(JobStatusMessage.init)
                }
                guard let record = try apply(message, &connection) else { continue }
                changed[record.jobID] = record
                let current = JobStatusMessage(record)
                if status[record.jobID] != current {
                    status[record.jobID] = current
                    try connection.query(
                        "INSERT INTO status_outbox (job_id, payload_json) VALUES (?, ?)",
                        [.text(record.jobID.rawValue), .text(String(decoding: try JobStatusCodec.encode(current), as: UTF8.self))])
                }
            }
            for (key, offset) in next {
                try connection.query(
                    "INSERT INTO consumed_offsets (topic, partition, next_offset) VALUES (?, ?, ?) ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                    [.text(key.topic), .integer(Int64(key.partition)), .integer(offset)])
            }
            return changed.values.sorted { $0.jobID < $1.jobID }.map { JobTransition(previousState: before[$0.jobID] ?? nil, record: $0) }
        }
    }

    /// Status messages not yet published, oldest first (the status topic's outbox).
    public func pendingStatus(limit: Int) throws -> [(sequence: Int64, jobID: JobID, payload: Data)] {
        try database.read { connection in
            try connection.query(
                "SELECT sequence, job_id, payload_json FROM status_outbox ORDER BY sequence LIMIT ?", [.integer(Int64(max(1, limit)))]
            ).compactMap { row in
                guard let sequence = row[0].int, let jobID = row[1].string.flatMap(JobID.init), let payload = row[2].string else { return nil }
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
        try database.read { connection in Int(try connection.query("SELECT count(*) FROM status_outbox").first?[0].int ?? 0) }
    }

    /// Job counts by (state, team, backend).
    public func jobCounts() throws -> [(state: JobState, team: String, backend: String, count: Int)] {
        try database.read { connection in
            try connection.query(
                "SELECT state, team, coalesce(backend, requested_backend, 'none'), count(*) FROM jobs GROUP BY 1, 2, 3"
            ).compactMap { row in
                guard let state = row[0].string.flatMap(JobState.init(rawValue:)) else { return nil }
                return (state, row[1].string ?? "", row[2].string ?? "none", Int(row[3].int ?? 0))
            }
        }
    }

    private func apply(_ message: IngestMessage, _ connection: inout SQLiteConnection) throws -> JobRecord? {
        switch message.record {
        case .submitted(let command):
            let spec = command.spec
            let specJSON = String(decoding: try WireFormat.encoder().encode(spec), as: UTF8.self)
            try ensureJobRow(command.jobID, team: spec.team, at: command.submittedAt, &connection)
            try connection.query(
                "UPDATE jobs SET team = ?, name = ?, kind = ?, requested_backend = ?, spec_json = ?, submitted_at = ? WHERE job_id = ?",
                [
                    .text(spec.team), .text(spec.name), .text(spec.kind.rawValue), .text(spec.backend.rawValue), .text(specJSON),
                    .real(command.submittedAt.timeIntervalSince1970), .text(command.jobID.rawValue),
                ])
            let queued = LifecycleEvent(
                jobID: command.jobID, attempt: 0, state: .queued, source: .aggregator, occurredAt: command.submittedAt, team: spec.team)
            return try applyEvent(queued, at: message.position, &connection)
        case .cancelRequested(let command):
            // Kept apart from `jobs`: a cancel may be read before anything else about its job.
            // The earliest request wins (ties: the smaller reason), whatever the order of arrival.
            try connection.query(
                """
                INSERT INTO cancel_requests (job_id, requested_at, reason) VALUES (?, ?, ?)
                ON CONFLICT (job_id) DO UPDATE SET
                    reason = CASE WHEN excluded.requested_at < requested_at OR (excluded.requested_at = requested_at AND excluded.reason < reason)
                        THEN excluded.reason ELSE reason END,
                    requested_at = min(requested_at, excluded.requested_at)
                """,
                [.text(command.jobID.rawValue), .real(command.requestedAt.timeIntervalSince1970), .text(command.reason ?? "")])
            return try job(command.jobID, &connection)
        case .event(let event):
            try ensureJobRow(event.jobID, team: event.team ?? "unknown", at: event.occurredAt, &connection)
            return try applyEvent(event, at: message.position, &connection)
        case .rejected(let jobID, let reason):
            try connection.query(
                "INSERT OR IGNORE INTO rejected_messages (topic, partition, offset, job_id, reason) VALUES (?, ?, ?, ?, ?)",
                [
                    .text(message.position.topic), .integer(Int64(message.position.partition)), .integer(message.position.offset),
                    jobID.map { .text($0.rawValue) } ?? .null, .text(reason),
                ])
            return nil
        }
    }

    private func ensureJobRow(_ jobID: JobID, team: String, at time: Date, _ connection: inout SQLiteConnection) throws {
        try connection.query(
            "INSERT OR IGNORE INTO jobs (job_id, team, attempt, state, state_source, updated_at) VALUES (?, ?, 0, 'QUEUED', 'aggregator', ?)",
            [.text(jobID.rawValue), .text(team), .real(time.timeIntervalSince1970)])
    }

    /// Folds `event` into its attempt, then refreshes the job's summary from its latest attempt.
    private func applyEvent(_ event: LifecycleEvent, at position: MessagePosition, _ connection: inout SQLiteConnection) throws -> JobRecord? {
        let payload = String(decoding: try LifecycleEventCodec.encode(event), as: UTF8.self)
        // A heartbeat repeats a fact already stored: it only moves the job's last observation.
        if event.observedAt == nil {
            try connection.query(
                "INSERT OR IGNORE INTO job_events (topic, partition, offset, job_id, attempt, state, source, occurred_at, payload_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    .text(position.topic), .integer(Int64(position.partition)), .integer(position.offset), .text(event.jobID.rawValue),
                    .integer(Int64(event.attempt)), .text(event.state.rawValue), .text(event.source.rawValue),
                    .real(event.occurredAt.timeIntervalSince1970), .text(payload),
                ])
        }

        let merged = try attemptStatus(event.jobID, event.attempt, &connection).map { $0.merging(event) } ?? AttemptStatus(event)
        try save(merged, &connection)

        let latest =
            try connection.query("SELECT max(attempt) FROM attempts WHERE job_id = ?", [.text(event.jobID.rawValue)]).first?[0].int.map(Int.init) ?? 0
        guard let current = try attemptStatus(event.jobID, latest, &connection) else { return nil }
        let decisive = current.decisive
        let claimedAt = [JobState.claimed, .provisioning, .pending, .running].compactMap { merged.firstSeen[$0] }.min()
        try connection.query(
            """
            UPDATE jobs SET attempt = ?, state = ?, state_source = ?, backend = coalesce(?, backend), resource_name = ?, exit_code = ?,
                failure_class = ?, reason = ?, started_at = ?, finished_at = ?,
                claimed_at = CASE WHEN ? IS NULL THEN claimed_at ELSE min(coalesce(claimed_at, ?), ?) END,
                updated_at = max(updated_at, ?)
            WHERE job_id = ?
            """,
            [
                .integer(Int64(latest)), .text(decisive.state.rawValue), .text(decisive.source.rawValue), decisive.backend.map { .text($0) } ?? .null,
                current.resourceName.map { .text($0) } ?? .null, decisive.exitCode.map { .integer(Int64($0)) } ?? .null,
                decisive.failureClass.map { .text($0.rawValue) } ?? .null, decisive.reason.map { .text($0) } ?? .null,
                current.firstSeen[.running].map { .real($0.timeIntervalSince1970) } ?? .null,
                decisive.state.isTerminal ? .real(decisive.occurredAt.timeIntervalSince1970) : .null,
                claimedAt.map { .real($0.timeIntervalSince1970) } ?? .null, claimedAt.map { .real($0.timeIntervalSince1970) } ?? .null,
                claimedAt.map { .real($0.timeIntervalSince1970) } ?? .null,
                .real(event.occurredAt.timeIntervalSince1970), .text(event.jobID.rawValue),
            ])
        // Every event comes from a worker that observed the job then; a plain maximum, so the
        // result does not depend on the order events are applied in.
        try connection.query(
            "UPDATE jobs SET last_observed_at = max(coalesce(last_observed_at, 0), ?) WHERE job_id = ?",
            [.real((event.observedAt ?? event.occurredAt).timeIntervalSince1970), .text(event.jobID.rawValue)])
        return try job(event.jobID, &connection)
    }

    func attemptStatus(_ jobID: JobID, _ attempt: Int, _ connection: inout SQLiteConnection) throws -> AttemptStatus? {
        guard
            let row = try connection.query(
                "SELECT decisive_json, first_seen_json, last_seen, resource_name FROM attempts WHERE job_id = ? AND attempt = ?",
                [.text(jobID.rawValue), .integer(Int64(attempt))]
            ).first
        else { return nil }
        let decisive = try LifecycleEventCodec.decode(Data(row[0].string!.utf8))
        let firstSeen = try JSONDecoder().decode([String: Double].self, from: Data(row[1].string!.utf8))
        return AttemptStatus(
            decisive: decisive,
            firstSeen: Dictionary(
                uniqueKeysWithValues: firstSeen.compactMap { key, value in JobState(rawValue: key).map { ($0, Date(timeIntervalSince1970: value)) } }),
            lastSeen: Date(timeIntervalSince1970: row[2].double!), resourceName: row[3].string)
    }

    private func save(_ status: AttemptStatus, _ connection: inout SQLiteConnection) throws {
        let decisive = String(decoding: try LifecycleEventCodec.encode(status.decisive), as: UTF8.self)
        let firstSeenEncoder = JSONEncoder()
        firstSeenEncoder.outputFormatting = .sortedKeys
        let firstSeen = String(
            decoding: try firstSeenEncoder.encode(
                Dictionary(uniqueKeysWithValues: status.firstSeen.map { ($0.key.rawValue, $0.value.timeIntervalSince1970) })), as: UTF8.self)
        try connection.query(
            """
            INSERT INTO attempts (job_id, attempt, state, decisive_json, first_seen_json, last_seen, resource_name) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (job_id, attempt) DO UPDATE SET state = excluded.state, decisive_json = excluded.decisive_json,
                first_seen_json = excluded.first_seen_json, last_seen = excluded.last_seen, resource_name = excluded.resource_name
            """,
            [
                .text(status.jobID.rawValue), .integer(Int64(status.attempt)), .text(status.state.rawValue), .text(decisive), .text(firstSeen),
                .real(status.lastSeen.timeIntervalSince1970), status.resourceName.map { .text($0) } ?? .null,
            ])
    }

    // MARK: reading

    /// The job columns in `record`'s order.
    static let jobColumns = """
        jobs.job_id, team, name, kind, requested_backend, submitted_at, cancel_requests.requested_at, attempt, state,
            state_source, backend, resource_name, exit_code, failure_class, jobs.reason, claimed_at, started_at, finished_at, updated_at
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

    /// Jobs matching `filter`, oldest id first.
    public func jobs(_ filter: JobFilter = JobFilter()) throws -> [JobRecord] {
        var conditions: [String] = []
        var parameters: [SQLiteValue] = []
        if let team = filter.team {
            conditions.append("team = ?")
            parameters.append(.text(team))
        }
        if let state = filter.state {
            conditions.append("state = ?")
            parameters.append(.text(state.rawValue))
        }
        if let after = filter.after {
            conditions.append("jobs.job_id > ?")
            parameters.append(.text(after.rawValue))
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        parameters.append(.integer(Int64(max(1, filter.limit))))
        let order = filter.newest ? "DESC" : "ASC"
        let records = try database.read { connection in
            try connection.query("\(Self.jobSelect) \(whereClause) ORDER BY jobs.job_id \(order) LIMIT ?", parameters).compactMap(Self.record)
        }
        return filter.newest ? records.reversed() : records
    }

    /// Every event stored for a job, including reports that lost to a higher authority.
    public func events(of jobID: JobID) throws -> [StoredEvent] {
        try database.read { connection in
            try connection.query(
                "SELECT topic, partition, offset, payload_json FROM job_events WHERE job_id = ? ORDER BY occurred_at, topic, partition, offset",
                [.text(jobID.rawValue)]
            ).map { row in
                StoredEvent(
                    position: MessagePosition(topic: row[0].string!, partition: Int32(row[1].int!), offset: row[2].int!),
                    event: try LifecycleEventCodec.decode(Data(row[3].string!.utf8)))
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
                "job_events ORDER BY topic, partition, offset", "rejected_messages ORDER BY topic, partition, offset",
            ] {
                for row in try connection.query("SELECT * FROM \(table)") {
                    lines.append(table.prefix { $0 != " " } + ": " + row.map { "\($0)" }.joined(separator: " | "))
                }
            }
            return lines.joined(separator: "\n")
        }
    }

    static func record(_ row: [SQLiteValue]) -> JobRecord? {
        guard let jobID = row[0].string.flatMap(JobID.init), let state = row[8].string.flatMap(JobState.init(rawValue:)) else { return nil }
        func date(_ value: SQLiteValue) -> Date? { value.double.map(Date.init(timeIntervalSince1970:)) }
        return JobRecord(
            jobID: jobID, team: row[1].string ?? "", name: row[2].string, kind: row[3].string, requestedBackend: row[4].string,
            submittedAt: date(row[5]), cancelRequestedAt: date(row[6]), attempt: Int(row[7].int ?? 0), state: state,
            stateSource: row[9].string.flatMap(EventSource.init(rawValue:)) ?? .aggregator, backend: row[10].string,
            resourceName: row[11].string, exitCode: row[12].int.map { Int32($0) },
            failureClass: row[13].string.flatMap(FailureClass.init(rawValue:)), reason: row[14].string,
            claimedAt: date(row[15]), startedAt: date(row[16]), finishedAt: date(row[17]), updatedAt: date(row[18]) ?? Date(timeIntervalSince1970: 0))
    }
}
