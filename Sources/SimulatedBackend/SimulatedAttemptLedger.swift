import Dispatch
import Foundation
import Synchronization
import TrainyardCore
import TrainyardStore

/// The per-host state file of the simulated backend: one SQLite database (WAL) shared by every
/// worker process on the host, holding one row per attempt keyed by its resource name.
///
/// A create is `INSERT OR IGNORE` on that key, so whichever process comes first starts the
/// attempt and every other one reads (adopts) the same row; each insert that did start an
/// attempt also appends to `simulated_starts`, the audit trail that shows there was exactly one
/// start. Writes go through one queue per process that commits everything waiting in one
/// transaction (group commit, `synchronous = FULL`): a create is durable before it returns, and
/// thousands of creates a second cost a few fsyncs.
public final class SimulatedAttemptLedger: Sendable {
    private let writer: SQLiteDatabase
    /// Reads never wait behind the writer's fsync (WAL readers do not block).
    private let reader: SQLiteDatabase
    private let batches: WriteBatches

    /// Opens (creating if needed) the state file at `path`.
    public init(path: String) throws {
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        writer = try SQLiteDatabase(path: path)
        try writer.execute("PRAGMA synchronous = FULL")
        try writer.write { connection in
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS simulated_attempts (
                    resource_name TEXT PRIMARY KEY, job_id TEXT NOT NULL, attempt INTEGER NOT NULL, team TEXT NOT NULL,
                    created_at REAL NOT NULL, starts_at REAL NOT NULL, ends_at REAL NOT NULL, times_out_at REAL NOT NULL,
                    outcome TEXT NOT NULL, exit_code INTEGER NOT NULL, stopped_at REAL, stop_reason TEXT
                ) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS simulated_attempts_by_job ON simulated_attempts (job_id, attempt);
                CREATE TABLE IF NOT EXISTS simulated_starts (
                    resource_name TEXT NOT NULL, job_id TEXT NOT NULL, attempt INTEGER NOT NULL, started_at REAL NOT NULL,
                    process_id INTEGER NOT NULL
                );
                """)
        }
        reader = try SQLiteDatabase(path: path)
        batches = WriteBatches(database: writer)
    }

    /// Records `attempt` unless its resource name is already recorded; returns the stored row
    /// (ours, or the one another worker created first) once it is durable.
    public func create(_ attempt: SimulatedAttempt) async throws -> SimulatedAttempt {
        try await batches.write { connection in
            let inserted = try connection.query(
                """
                INSERT OR IGNORE INTO simulated_attempts (resource_name, job_id, attempt, team, created_at, starts_at, ends_at,
                    times_out_at, outcome, exit_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING resource_name
                """,
                [
                    .text(attempt.resourceName), .text(attempt.jobID.rawValue), .integer(Int64(attempt.attempt)), .text(attempt.team),
                    .real(attempt.createdAt.timeIntervalSince1970), .real(attempt.startsAt.timeIntervalSince1970),
                    .real(attempt.endsAt.timeIntervalSince1970), .real(attempt.timesOutAt.timeIntervalSince1970),
                    .text(attempt.outcome.rawValue), .integer(Int64(attempt.exitCode)),
                ])
            guard inserted.isEmpty else {
                try connection.query(
                    "INSERT INTO simulated_starts (resource_name, job_id, attempt, started_at, process_id) VALUES (?, ?, ?, ?, ?)",
                    [
                        .text(attempt.resourceName), .text(attempt.jobID.rawValue), .integer(Int64(attempt.attempt)),
                        .real(attempt.createdAt.timeIntervalSince1970), .integer(Int64(getpid())),
                    ])
                return attempt
            }
            guard let stored = try Self.attempt(named: attempt.resourceName, in: &connection) else {
                throw SimulatedLedgerError(message: "\(attempt.resourceName) was neither inserted nor found")
            }
            return stored
        }
    }

    /// Records a stop at `at` unless one is recorded already; returns the stored row, nil when
    /// the attempt does not exist.
    public func stop(_ resourceName: String, reason: String, at: Date) async throws -> SimulatedAttempt? {
        try await batches.write { connection in
            try connection.query(
                "UPDATE simulated_attempts SET stopped_at = ?, stop_reason = ? WHERE resource_name = ? AND stopped_at IS NULL",
                [.real(at.timeIntervalSince1970), .text(reason), .text(resourceName)])
            return try Self.attempt(named: resourceName, in: &connection)
        }
    }

    /// The recorded attempt, nil when there is none.
    public func attempt(named resourceName: String) throws -> SimulatedAttempt? {
        try reader.read { connection in try Self.attempt(named: resourceName, in: &connection) }
    }

    /// The job's recorded attempt numbers, ascending.
    public func attempts(of jobID: JobID) throws -> [Int] {
        try reader.read { connection in
            try connection.query("SELECT attempt FROM simulated_attempts WHERE job_id = ? ORDER BY attempt", [.text(jobID.rawValue)])
                .compactMap { $0[0].int.map(Int.init) }
        }
    }

    /// How many times the attempt was started (the audit trail; 1 at most unless the contract broke).
    public func startCount(of resourceName: String) throws -> Int {
        try reader.read { connection in
            Int(try connection.query("SELECT count(*) FROM simulated_starts WHERE resource_name = ?", [.text(resourceName)])[0][0].int ?? 0)
        }
    }

    private static let selectAttempt = SQLiteStatement(
        "SELECT resource_name, job_id, attempt, team, created_at, starts_at, ends_at, times_out_at, outcome, exit_code, stopped_at, stop_reason FROM simulated_attempts WHERE resource_name = ?"
    )

    /// `selectAttempt`'s column positions, found by name on first use; they follow from the SQL
    /// text alone, so one answer holds for every connection.
    private static let attemptColumns = Mutex<AttemptColumns?>(nil)

    /// Where each column of `selectAttempt` sits in its rows.
    private struct AttemptColumns {
        let resourceName, jobID, attempt, team, createdAt, startsAt, endsAt, timesOutAt, outcome, exitCode, stoppedAt, stopReason: Int

        init(_ columns: SQLiteColumns) throws {
            resourceName = try columns.position(of: "resource_name")
            jobID = try columns.position(of: "job_id")
            attempt = try columns.position(of: "attempt")
            team = try columns.position(of: "team")
            createdAt = try columns.position(of: "created_at")
            startsAt = try columns.position(of: "starts_at")
            endsAt = try columns.position(of: "ends_at")
            timesOutAt = try columns.position(of: "times_out_at")
            outcome = try columns.position(of: "outcome")
            exitCode = try columns.position(of: "exit_code")
            stoppedAt = try columns.position(of: "stopped_at")
            stopReason = try columns.position(of: "stop_reason")
        }
    }

    private static func attemptColumns(in connection: inout SQLiteConnection) throws -> AttemptColumns {
        if let known = attemptColumns.withLock({ $0 }) { return known }
        let found = try AttemptColumns(try connection.columns(of: selectAttempt))
        attemptColumns.withLock { $0 = found }
        return found
    }

    private static func attempt(named resourceName: String, in connection: inout SQLiteConnection) throws -> SimulatedAttempt? {
        let column = try attemptColumns(in: &connection)
        guard let row = try connection.query(selectAttempt, [.text(resourceName)]).first else { return nil }
        func date(_ position: Int) -> Date? { row[position].double.map(Date.init(timeIntervalSince1970:)) }
        guard let name = row[column.resourceName].string, let jobID = row[column.jobID].string.flatMap(JobID.init),
            let attempt = row[column.attempt].int, let team = row[column.team].string, let createdAt = date(column.createdAt),
            let startsAt = date(column.startsAt), let endsAt = date(column.endsAt), let timesOutAt = date(column.timesOutAt),
            let outcome = row[column.outcome].string.flatMap(SimulatedOutcome.init(rawValue:)), let exitCode = row[column.exitCode].int
        else { throw SimulatedLedgerError(message: "unreadable simulated attempt \(resourceName)") }
        return SimulatedAttempt(
            resourceName: name, jobID: jobID, attempt: Int(attempt), team: team, createdAt: createdAt, startsAt: startsAt, endsAt: endsAt,
            timesOutAt: timesOutAt, outcome: outcome, exitCode: Int32(truncatingIfNeeded: exitCode), stoppedAt: date(column.stoppedAt),
            stopReason: row[column.stopReason].string)
    }
}

/// The state file holds something this version cannot read.
struct SimulatedLedgerError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Group commit: writes wait in a list; one drain at a time runs everything waiting in one
/// transaction on its own queue (never on Swift's cooperative pool: a commit blocks on fsync and
/// on other processes' locks), then resumes each waiter with its own result.
private final class WriteBatches: Sendable {
    private struct Pending {
        /// Runs the write inside the batch's transaction; returns how to resume its waiter once committed.
        var run: @Sendable (inout SQLiteConnection) -> @Sendable () -> Void
        /// Resumes the waiter with the batch's failure.
        var fail: @Sendable (any Error) -> Void
    }

    private let database: SQLiteDatabase
    private let queue = DispatchQueue(label: "trainyard-simulated-ledger")
    private let state = Mutex<(waiting: [Pending], draining: Bool)>(([], false))

    init(database: SQLiteDatabase) {
        self.database = database
    }

    func write<Value: Sendable>(_ body: @escaping @Sendable (inout SQLiteConnection) throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            let pending = Pending(
                run: { connection in
                    do {
                        let value = try body(&connection)
                        return { continuation.resume(returning: value) }
                    } catch {
                        return { continuation.resume(throwing: error) }
                    }
                },
                fail: { continuation.resume(throwing: $0) })
            let startDrain = state.withLock { state in
                state.waiting.append(pending)
                defer { state.draining = true }
                return !state.draining
            }
            if startDrain { queue.async { self.drain() } }
        }
    }

    private func drain() {
        while true {
            let batch = state.withLock { state in
                defer { state.waiting = [] }
                if state.waiting.isEmpty { state.draining = false }
                return state.waiting
            }
            if batch.isEmpty { return }
            do {
                let resumptions = try database.write { connection in batch.map { $0.run(&connection) } }
                resumptions.forEach { $0() }
            } catch {
                batch.forEach { $0.fail(error) }
            }
        }
    }
}
