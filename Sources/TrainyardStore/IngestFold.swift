import Foundation
import TrainyardCore

/// One row of `jobs` as the ingest keeps it in memory while it folds a batch.
///
/// Times are seconds since 1970 exactly as stored (REAL), so a record built from this row equals
/// the one read back from the table.
struct JobRow {
    var jobID: JobID
    var team: String
    var name: String?
    var kind: String?
    var requestedBackend: String?
    var specJSON: String?
    var submittedAt: Double?
    var attempt: Int
    var state: JobState
    var stateSource: EventSource
    var backend: String?
    var resourceName: String?
    var exitCode: Int32?
    var failureClass: FailureClass?
    var reason: String?
    var claimedAt: Double?
    var startedAt: Double?
    var finishedAt: Double?
    var updatedAt: Double
    var lastObservedAt: Double?

    /// The row a job gets from the first message about it.
    init(jobID: JobID, team: String, at time: Double) {
        self.jobID = jobID
        self.team = team
        attempt = 0
        state = .queued
        stateSource = .aggregator
        updatedAt = time
    }

    func record(cancelRequestedAt: Double?) -> JobRecord {
        func date(_ seconds: Double?) -> Date? { seconds.map(Date.init(timeIntervalSince1970:)) }
        return JobRecord(
            jobID: jobID, team: team, name: name, kind: kind, requestedBackend: requestedBackend, submittedAt: date(submittedAt),
            cancelRequestedAt: date(cancelRequestedAt), attempt: attempt, state: state, stateSource: stateSource, backend: backend,
            resourceName: resourceName, exitCode: exitCode, failureClass: failureClass, reason: reason, claimedAt: date(claimedAt),
            startedAt: date(startedAt), finishedAt: date(finishedAt), updatedAt: Date(timeIntervalSince1970: updatedAt))
    }
}

/// The `job_counts` row a job counts in: its state, team and backend (the one that ran its
/// latest attempt, else the one its spec asked for, else `none`).
struct JobCountKey: Hashable {
    var state: String
    var team: String
    var backend: String

    init(_ row: JobRow) {
        state = row.state.rawValue
        team = row.team
        backend = row.backend ?? row.requestedBackend ?? "none"
    }
}

/// A job's earliest cancel request (`cancel_requests`).
struct CancelRow: Equatable {
    var requestedAt: Double
    var reason: String

    /// The earliest request wins (ties: the smaller reason, compared as SQLite compares text), so
    /// the result does not depend on the order requests arrive in.
    func merging(_ other: CancelRow) -> CancelRow {
        let otherWins =
            other.requestedAt < requestedAt || (other.requestedAt == requestedAt && other.reason.utf8.lexicographicallyPrecedes(reason.utf8))
        return CancelRow(requestedAt: min(requestedAt, other.requestedAt), reason: otherWins ? other.reason : reason)
    }
}

/// Everything the store holds about one job while a batch is folded: read once, changed in
/// memory by each of the batch's messages about the job, written once.
struct JobFold {
    /// Nil until a message creates the job's row (a cancel may come before anything else).
    var row: JobRow?
    var rowIsStored: Bool
    var rowChanged = false
    var cancel: CancelRow?
    var cancelChanged = false
    /// Every attempt of the job, by number (0: the request itself).
    var attempts: [Int: AttemptStatus]
    var changedAttempts: Set<Int> = []
    /// `attempts.decisive_json` of the attempts whose decisive event is a message of this batch
    /// that came with its JSON already encoded, so the write need not encode it again.
    var decisiveJSON: [Int: String] = [:]
    /// The costs its attempts reported (`attempt_costs`).
    var costs: AttemptCosts
    /// The job's state before the batch (nil: not in the store).
    let previousState: JobState?
    /// The `job_counts` row the job counted in before the batch (nil: not in the store).
    let previousCount: JobCountKey?
    /// The status as of the last message applied, to queue one outbox row per real change.
    var status: JobStatusMessage?
    /// True once a message of the batch produced a record for the job.
    var touched = false

    /// The job this fold is about.
    let jobID: JobID

    init(_ jobID: JobID, row: JobRow?, cancel: CancelRow?, attempts: [Int: AttemptStatus], costs: AttemptCosts) {
        self.jobID = jobID
        self.row = row
        rowIsStored = row != nil
        self.cancel = cancel
        self.attempts = attempts
        self.costs = costs
        previousState = row?.state
        previousCount = row.map(JobCountKey.init)
        status = record.map(JobStatusMessage.init)
    }

    var record: JobRecord? {
        guard var record = row?.record(cancelRequestedAt: cancel?.requestedAt) else { return nil }
        record.costUSD = costs.totalMicros.map(AttemptCost.usd(micros:))
        return record
    }

    mutating func ensureRow(_ jobID: JobID, team: String, at time: Date) {
        guard row == nil else { return }
        row = JobRow(jobID: jobID, team: team, at: time.timeIntervalSince1970)
        rowChanged = true
    }

    /// The first submit of a job is the one its worker runs (one key, one partition, in order):
    /// a later one with the same id (an idempotent resubmit, maybe with another spec) changes nothing.
    mutating func submit(_ command: SubmitCommand, specJSON: String) {
        guard row?.submittedAt == nil else { return }
        let spec = command.spec
        ensureRow(command.jobID, team: spec.team, at: command.submittedAt)
        row!.team = spec.team
        row!.name = spec.name
        row!.kind = spec.kind.rawValue
        row!.requestedBackend = spec.backend.rawValue
        row!.specJSON = specJSON
        row!.submittedAt = command.submittedAt.timeIntervalSince1970
        rowChanged = true
    }

    mutating func cancel(_ command: CancelCommand) {
        let request = CancelRow(requestedAt: command.requestedAt.timeIntervalSince1970, reason: command.reason ?? "")
        cancel = cancel.map { $0.merging(request) } ?? request
        cancelChanged = true
    }

    /// Folds `event` into its attempt, then refreshes the job's summary from its latest attempt.
    /// The job's row must exist. `payload`: the event's JSON as `job_events` keeps it, if encoded.
    mutating func apply(_ event: LifecycleEvent, payload: String? = nil) {
        let merged = attempts[event.attempt].map { $0.merging(event) } ?? AttemptStatus(event)
        // The stored form below keeps whole milliseconds, which is all the encoding writes.
        if merged.decisive == event { decisiveJSON[event.attempt] = payload }
        // Kept as `attempts` stores it, so the next message sees what a read of the row would give.
        attempts[event.attempt] = merged.asStored
        changedAttempts.insert(event.attempt)
        costs.merge(event)
        let latest = attempts.keys.max()!
        let current = attempts[latest]!
        let decisive = current.decisive
        let claimedAt = [JobState.claimed, .provisioning, .pending, .running].compactMap { merged.firstSeen[$0] }.min()?.timeIntervalSince1970
        var row = row!
        row.attempt = latest
        row.state = decisive.state
        row.stateSource = decisive.source
        row.backend = decisive.backend ?? row.backend
        row.resourceName = current.resourceName
        row.exitCode = decisive.exitCode
        row.failureClass = decisive.failureClass
        row.reason = decisive.reason
        row.startedAt = current.firstSeen[.running]?.timeIntervalSince1970
        row.finishedAt = decisive.state.isTerminal ? decisive.occurredAt.timeIntervalSince1970 : nil
        if let claimedAt { row.claimedAt = min(row.claimedAt ?? claimedAt, claimedAt) }
        row.updatedAt = max(row.updatedAt, event.occurredAt.timeIntervalSince1970)
        // Every event comes from a worker that observed the job then; a plain maximum, so the
        // result does not depend on the order events are applied in.
        row.lastObservedAt = max(row.lastObservedAt ?? 0, (event.observedAt ?? event.occurredAt).timeIntervalSince1970)
        self.row = row
        rowChanged = true
    }
}

extension AttemptStatus {
    /// This status as it reads back from `attempts`: the decisive event as its wire encoding
    /// decodes (times in whole milliseconds), the other times through their REAL columns.
    var asStored: AttemptStatus {
        func stored(_ date: Date) -> Date { Date(timeIntervalSince1970: date.timeIntervalSince1970) }
        func wire(_ date: Date) -> Date { Date(timeIntervalSince1970: Double(WireFormat.milliseconds(date)) / 1000) }
        var event = decisive
        event.occurredAt = wire(event.occurredAt)
        event.observedAt = event.observedAt.map(wire)
        return AttemptStatus(decisive: event, firstSeen: firstSeen.mapValues(stored), lastSeen: stored(lastSeen), resourceName: resourceName)
    }
}
