import Foundation
import TrainyardCore

extension JobStore {
    /// Applies `messages` (in order) and advances the consumed offsets, in one transaction.
    /// Messages at or below an offset already consumed are skipped.
    ///
    /// Each message that changes a job's status (`JobStatusMessage`) also adds the new status to
    /// the status outbox, in the same transaction: one row per change, so the status topic shows
    /// every state a job passes through even when one batch holds several.
    ///
    /// The batch is folded in memory per job: each job it names is read once, every message about
    /// it applied to that copy in order, and the result written once. The outcome is the same as
    /// applying the messages one by one.
    /// - Returns: the jobs the batch touched, with their state before the batch.
    @discardableResult
    public func apply(_ messages: [IngestMessage]) throws -> [JobTransition] {
        guard !messages.isEmpty else { return [] }
        return try database.write { connection in
            var batch = IngestBatch()
            for message in messages {
                try batch.apply(message, &connection)
            }
            return try batch.write(&connection)
        }
    }

    /// One attempt from a row of `attempts` (decisive_json, first_seen_json, last_seen, resource_name).
    static func attemptStatus(_ row: SQLiteRow) throws -> AttemptStatus {
        let decisive = try LifecycleEventCodec.decode(Data((row["decisive_json"].string ?? "").utf8))
        return AttemptStatus(
            decisive: decisive, firstSeen: try FirstSeenCodec.decode(row["first_seen_json"].string ?? "{}"),
            lastSeen: Date(timeIntervalSince1970: row["last_seen"].double ?? 0), resourceName: row["resource_name"].string)
    }
}

/// `attempts.first_seen_json`: `{"CLAIMED":1764389106.789,…}`, sorted keys, seconds since 1970.
enum FirstSeenCodec {
    static func encode(_ firstSeen: [JobState: Date]) throws -> String {
        let entries = firstSeen.map { ($0.key.rawValue, $0.value.timeIntervalSince1970) }.sorted { $0.0 < $1.0 }
        var writer = WireJSONWriter(capacity: 160)
        for (key, seconds) in entries { writer.double(key: key, seconds) }
        if let data = writer.data { return String(decoding: data, as: UTF8.self) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(Dictionary(uniqueKeysWithValues: entries)), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> [JobState: Date] {
        let data = Data(text.utf8)
        var entries: [String: Double] = [:]
        let read = WireJSONReader.read(data) { key, value in
            guard let seconds = value.double, entries[key] == nil else { return false }
            entries[key] = seconds
            return true
        }
        if !read { entries = try JSONDecoder().decode([String: Double].self, from: data) }
        return Dictionary(
            uniqueKeysWithValues: entries.compactMap { key, value in JobState(rawValue: key).map { ($0, Date(timeIntervalSince1970: value)) } })
    }
}

/// The state of one `apply` call: the jobs it read, the rows it will write.
private struct IngestBatch {
    private struct Partition: Hashable {
        var topic: String
        var partition: Int32
    }

    private var next: [Partition: Int64] = [:]
    /// The jobs the batch names, in the order it first names them; `places` finds one by id.
    private var jobs: [JobFold] = []
    private var places: [JobID: Int] = [:]
    private var jobColumns: JobColumns?
    /// History rows (`job_events`), in message order, with the event's JSON when already encoded.
    private var events: [(position: MessagePosition, event: LifecycleEvent, payload: String?)] = []
    private var rejected: [(position: MessagePosition, jobID: JobID?, reason: String)] = []
    /// Status changes, in the order they happened.
    private var outbox: [JobStatusMessage] = []

    mutating func apply(_ message: IngestMessage, _ connection: inout SQLiteConnection) throws {
        let partition = Partition(topic: message.position.topic, partition: message.position.partition)
        let nextOffset: Int64
        if let known = next[partition] {
            nextOffset = known
        } else {
            nextOffset =
                try connection.query(Statements.nextOffset, [.text(partition.topic), .integer(Int64(partition.partition))]).first?["next_offset"].int
                ?? 0
        }
        guard message.position.offset >= nextOffset else {
            next[partition] = nextOffset
            return
        }
        next[partition] = message.position.offset + 1

        guard let jobID = message.record.jobID else {
            if case .rejected(_, let reason) = message.record { rejected.append((message.position, nil, reason)) }
            return
        }
        let place: Int
        if let known = places[jobID] {
            place = known
        } else {
            place = jobs.count
            jobs.append(try load(jobID, &connection))
            places[jobID] = place
        }
        // The fold is changed in place (no copy of its attempts), beside the batch's other rows.
        try Self.fold(message, into: &jobs[place], events: &events, rejected: &rejected, outbox: &outbox)
    }

    /// Applies one record about the job of `job` to it, and queues the history, rejection and
    /// status rows it makes.
    private static func fold(
        _ message: IngestMessage, into job: inout JobFold, events: inout [(position: MessagePosition, event: LifecycleEvent, payload: String?)],
        rejected: inout [(position: MessagePosition, jobID: JobID?, reason: String)], outbox: inout [JobStatusMessage]
    ) throws {
        let position = message.position
        func apply(_ event: LifecycleEvent) {
            // A heartbeat repeats a fact already stored: it only moves the job's last observation.
            if event.observedAt == nil { events.append((position, event, message.encoded.event)) }
            job.apply(event, payload: event.observedAt == nil ? message.encoded.event : nil)
        }
        switch message.record {
        case .submitted(let command):
            let specJSON = try message.encoded.spec ?? String(decoding: JobSpecCodec.encode(command.spec), as: UTF8.self)
            job.submit(command, specJSON: specJSON)
            apply(LifecycleEvent.queued(command))
        case .cancelRequested(let command):
            // Kept apart from the job's row: a cancel may be read before anything else about its job.
            job.cancel(command)
        case .event(let event):
            job.ensureRow(event.jobID, team: event.team ?? "unknown", at: event.occurredAt)
            apply(event)
        case .rejected(let jobID, let reason):
            rejected.append((position, jobID, reason))
            return
        }
        guard let record = job.record else { return }
        job.touched = true
        let current = JobStatusMessage(record)
        if job.status != current {
            job.status = current
            outbox.append(current)
        }
    }

    /// Writes every row the batch changed and the partitions' next offsets.
    /// - Returns: the jobs the batch touched, with their state before the batch.
    func write(_ connection: inout SQLiteConnection) throws -> [JobTransition] {
        let statuses = StatusEncoding(outbox)
        for (position, event, payload) in events {
            try connection.query(
                Statements.insertEvent,
                [
                    .text(position.topic), .integer(Int64(position.partition)), .integer(position.offset), .text(event.jobID.rawValue),
                    .integer(Int64(event.attempt)), .text(event.state.rawValue), .text(event.source.rawValue),
                    .real(event.occurredAt.timeIntervalSince1970),
                    .text(try payload ?? String(decoding: LifecycleEventCodec.encode(event), as: UTF8.self)),
                ])
        }
        for (position, jobID, reason) in rejected {
            try connection.query(
                Statements.insertRejected,
                [
                    .text(position.topic), .integer(Int64(position.partition)), .integer(position.offset), jobID.map { .text($0.rawValue) } ?? .null,
                    .text(reason),
                ])
        }
        var transitions: [JobTransition] = []
        // The batch's net change to `job_counts`, written once per row instead of per job.
        var counts: [JobCountKey: Int64] = [:]
        for job in jobs {
            if job.rowChanged, let row = job.row {
                try Self.save(row, isStored: job.rowIsStored, &connection)
                let now = JobCountKey(row)
                if now != job.previousCount {
                    counts[now, default: 0] += 1
                    if let before = job.previousCount { counts[before, default: 0] -= 1 }
                }
            }
            if job.cancelChanged, let cancel = job.cancel {
                try connection.query(Statements.saveCancel, [.text(job.jobID.rawValue), .real(cancel.requestedAt), .text(cancel.reason)])
            }
            for attempt in job.changedAttempts { try Self.save(job.attempts[attempt]!, decisiveJSON: job.decisiveJSON[attempt], &connection) }
            try job.costs.save(job.jobID, &connection)
            if job.touched, let record = job.record { transitions.append(JobTransition(previousState: job.previousState, record: record)) }
        }
        for (key, change) in counts where change != 0 {
            let values: [SQLiteValue] = [.text(key.state), .text(key.team), .text(key.backend)]
            try connection.query(Statements.changeCount, values + [.integer(change)])
            try connection.query(Statements.dropEmptyCount, values)
        }
        for (status, payload) in zip(outbox, statuses.payloads()) {
            try connection.query(
                Statements.insertStatus,
                [.text(status.jobID.rawValue), .text(try payload ?? String(decoding: JobStatusCodec.encode(status), as: UTF8.self))])
        }
        for (partition, offset) in next {
            try connection.query(Statements.saveOffset, [.text(partition.topic), .integer(Int64(partition.partition)), .integer(offset)])
        }
        return transitions.sorted { $0.record.jobID < $1.record.jobID }
    }

    /// The statements of the ingest, prepared once per connection.
    private enum Statements {
        static let nextOffset = SQLiteStatement("SELECT next_offset FROM consumed_offsets WHERE topic = ? AND partition = ?")
        static let saveOffset = SQLiteStatement(
            "INSERT INTO consumed_offsets (topic, partition, next_offset) VALUES (?, ?, ?) ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset"
        )
        static let insertEvent = SQLiteStatement(
            "INSERT OR IGNORE INTO job_events (topic, partition, offset, job_id, attempt, state, source, occurred_at, payload_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        static let insertRejected = SQLiteStatement(
            "INSERT OR IGNORE INTO rejected_messages (topic, partition, offset, job_id, reason) VALUES (?, ?, ?, ?, ?)")
        static let changeCount = SQLiteStatement(
            """
            INSERT INTO job_counts (state, team, backend, count) VALUES (?, ?, ?, ?)
            ON CONFLICT (state, team, backend) DO UPDATE SET count = count + excluded.count
            """)
        static let dropEmptyCount = SQLiteStatement("DELETE FROM job_counts WHERE state = ? AND team = ? AND backend = ? AND count = 0")
        static let insertStatus = SQLiteStatement("INSERT INTO status_outbox (job_id, payload_json) VALUES (?, ?)")
        static let loadJob = SQLiteStatement(
            """
            SELECT team, name, kind, requested_backend, spec_json, submitted_at, attempt, state, state_source, backend, resource_name,
                exit_code, failure_class, reason, claimed_at, started_at, finished_at, updated_at, last_observed_at
            FROM jobs WHERE job_id = ?
            """)
        static let loadCancel = SQLiteStatement("SELECT requested_at, reason FROM cancel_requests WHERE job_id = ?")
        static let loadAttempts = SQLiteStatement(
            "SELECT attempt, decisive_json, first_seen_json, last_seen, resource_name FROM attempts WHERE job_id = ?")
        static let saveCancel = SQLiteStatement(
            """
            INSERT INTO cancel_requests (job_id, requested_at, reason) VALUES (?, ?, ?)
            ON CONFLICT (job_id) DO UPDATE SET requested_at = excluded.requested_at, reason = excluded.reason
            """)
        static let saveAttempt = SQLiteStatement(
            """
            INSERT INTO attempts (job_id, attempt, state, decisive_json, first_seen_json, last_seen, resource_name) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (job_id, attempt) DO UPDATE SET state = excluded.state, decisive_json = excluded.decisive_json,
                first_seen_json = excluded.first_seen_json, last_seen = excluded.last_seen, resource_name = excluded.resource_name
            """)
        static let updateJob = SQLiteStatement(
            """
            UPDATE jobs SET team = ?, name = ?, kind = ?, requested_backend = ?, spec_json = ?, submitted_at = ?, attempt = ?, state = ?,
                state_source = ?, backend = ?, resource_name = ?, exit_code = ?, failure_class = ?, reason = ?, claimed_at = ?, started_at = ?,
                finished_at = ?, updated_at = ?, last_observed_at = ?
            WHERE job_id = ?
            """)
        static let insertJob = SQLiteStatement(
            """
            INSERT INTO jobs (team, name, kind, requested_backend, spec_json, submitted_at, attempt, state, state_source, backend, resource_name,
                exit_code, failure_class, reason, claimed_at, started_at, finished_at, updated_at, last_observed_at, job_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
    }

    /// The positions of `Statements.loadJob`'s columns, found by name once per batch.
    private struct JobColumns {
        let team, name, kind, requestedBackend, specJSON, submittedAt, attempt, state, stateSource, backend, resourceName, exitCode,
            failureClass, reason, claimedAt, startedAt, finishedAt, updatedAt, lastObservedAt: Int

        init(_ columns: SQLiteColumns) throws {
            team = try columns.position(of: "team")
            name = try columns.position(of: "name")
            kind = try columns.position(of: "kind")
            requestedBackend = try columns.position(of: "requested_backend")
            specJSON = try columns.position(of: "spec_json")
            submittedAt = try columns.position(of: "submitted_at")
            attempt = try columns.position(of: "attempt")
            state = try columns.position(of: "state")
            stateSource = try columns.position(of: "state_source")
            backend = try columns.position(of: "backend")
            resourceName = try columns.position(of: "resource_name")
            exitCode = try columns.position(of: "exit_code")
            failureClass = try columns.position(of: "failure_class")
            reason = try columns.position(of: "reason")
            claimedAt = try columns.position(of: "claimed_at")
            startedAt = try columns.position(of: "started_at")
            finishedAt = try columns.position(of: "finished_at")
            updatedAt = try columns.position(of: "updated_at")
            lastObservedAt = try columns.position(of: "last_observed_at")
        }
    }

    /// Reads the job's row, cancel request and attempts.
    private mutating func load(_ jobID: JobID, _ connection: inout SQLiteConnection) throws -> JobFold {
        let id = SQLiteValue.text(jobID.rawValue)
        let column: JobColumns
        if let known = jobColumns {
            column = known
        } else {
            column = try JobColumns(try connection.columns(of: Statements.loadJob))
            jobColumns = column
        }
        let row = try connection.query(Statements.loadJob, [id]).first.map { row in
            guard let state = row[column.state].string.flatMap(JobState.init(rawValue:)) else {
                throw SQLiteError(code: 11, message: "job \(jobID): unknown state \(row[column.state])")
            }
            var job = JobRow(jobID: jobID, team: row[column.team].string ?? "", at: row[column.updatedAt].double ?? 0)
            job.name = row[column.name].string
            job.kind = row[column.kind].string
            job.requestedBackend = row[column.requestedBackend].string
            job.specJSON = row[column.specJSON].string
            job.submittedAt = row[column.submittedAt].double
            job.attempt = Int(row[column.attempt].int ?? 0)
            job.state = state
            job.stateSource = row[column.stateSource].string.flatMap(EventSource.init(rawValue:)) ?? .aggregator
            job.backend = row[column.backend].string
            job.resourceName = row[column.resourceName].string
            job.exitCode = row[column.exitCode].int.map { Int32(truncatingIfNeeded: $0) }
            job.failureClass = row[column.failureClass].string.flatMap(FailureClass.init(rawValue:))
            job.reason = row[column.reason].string
            job.claimedAt = row[column.claimedAt].double
            job.startedAt = row[column.startedAt].double
            job.finishedAt = row[column.finishedAt].double
            job.lastObservedAt = row[column.lastObservedAt].double
            return job
        }
        let cancel = try connection.query(Statements.loadCancel, [id]).first.map { row in
            CancelRow(requestedAt: row["requested_at"].double ?? 0, reason: row["reason"].string ?? "")
        }
        var attempts: [Int: AttemptStatus] = [:]
        for row in try connection.query(Statements.loadAttempts, [id]) {
            attempts[Int(row["attempt"].int ?? 0)] = try JobStore.attemptStatus(row)
        }
        return JobFold(jobID, row: row, cancel: cancel, attempts: attempts, costs: try AttemptCosts.load(jobID, &connection))
    }

    private static func save(_ row: JobRow, isStored: Bool, _ connection: inout SQLiteConnection) throws {
        func real(_ value: Double?) -> SQLiteValue { value.map { .real($0) } ?? .null }
        func text(_ value: String?) -> SQLiteValue { value.map { .text($0) } ?? .null }
        let values: [SQLiteValue] = [
            .text(row.team), text(row.name), text(row.kind), text(row.requestedBackend), text(row.specJSON), real(row.submittedAt),
            .integer(Int64(row.attempt)), .text(row.state.rawValue), .text(row.stateSource.rawValue), text(row.backend), text(row.resourceName),
            row.exitCode.map { .integer(Int64($0)) } ?? .null, text(row.failureClass?.rawValue), text(row.reason), real(row.claimedAt),
            real(row.startedAt), real(row.finishedAt), .real(row.updatedAt), real(row.lastObservedAt), .text(row.jobID.rawValue),
        ]
        try connection.query(isStored ? Statements.updateJob : Statements.insertJob, values)
    }

    private static func save(_ status: AttemptStatus, decisiveJSON: String?, _ connection: inout SQLiteConnection) throws {
        try connection.query(
            Statements.saveAttempt,
            [
                .text(status.jobID.rawValue), .integer(Int64(status.attempt)), .text(status.state.rawValue),
                .text(try decisiveJSON ?? String(decoding: LifecycleEventCodec.encode(status.decisive), as: UTF8.self)),
                .text(try FirstSeenCodec.encode(status.firstSeen)), .real(status.lastSeen.timeIntervalSince1970),
                status.resourceName.map { .text($0) } ?? .null,
            ])
    }
}

/// The JSON of a batch's status changes, encoded on another thread while the store writes the
/// batch's other rows: the store's thread bounds the aggregator, the encoding needs no store state.
///
/// `@unchecked Sendable`: `encoded` is written only by the encoding work item, before it leaves
/// `group`, and read only after `group.wait()`.
private final class StatusEncoding: @unchecked Sendable {
    /// A queue of its own, not a global one: a serial queue gets a thread even when every thread
    /// of the shared pool is blocked, e.g. on the store's lock that the waiting writer holds.
    private static let queue = DispatchQueue(label: "trainyard.store.status-encoding")
    private let group = DispatchGroup()
    private var encoded: [String?] = []

    init(_ statuses: [JobStatusMessage]) {
        guard !statuses.isEmpty else { return }
        Self.queue.async(group: group) { [self] in
            // Nil where encoding fails: the store's thread encodes that one again and throws.
            encoded = statuses.map { try? String(decoding: JobStatusCodec.encode($0), as: UTF8.self) }
        }
    }

    /// The payloads in the order of the statuses given, once they are all encoded.
    func payloads() -> [String?] {
        group.wait()
        return encoded
    }
}
