import Foundation

/// The last known state of each SageMaker job this worker knows about, fed by state-change
/// events and Describe calls, so the worker's frequent `observe` calls cost no API calls.
///
/// Merging only moves a job forward (`SageMakerJobStatus.rank`): a late, duplicated or
/// reordered event never undoes a newer state. Each entry also holds the SQS receipts of the
/// events that changed it; a receipt is handed back for deletion only once the state it carried
/// was returned by `observe` and a later `observe` followed (the worker publishes between the
/// two), or once it has been shown for `receiptGrace`, or once nobody has observed the job for
/// `receiptGrace` (its tracking ended: e.g. a duplicate that arrived after the final state).
/// Ages are measured on `clock`.
actor SageMakerStateCache<C: Clock<Duration>> {
    struct Entry {
        var kind: SageMakerJobKind?
        var status: SageMakerJobStatus?
        /// When the status was last confirmed (by an event or a Describe).
        var refreshedAt: C.Instant
        /// A worker tracks the job in this process (it called ensure / observe).
        var tracked = false
        var newReceipts: [String] = []
        var shownReceipts: [String] = []
        var shownAt: C.Instant?
        /// The last `observe` of the job here.
        var observedAt: C.Instant?
    }

    private var entries: [String: Entry] = [:]
    private let receiptGrace: Duration
    private let clock: C

    init(receiptGrace: Duration = .seconds(30), clock: C) {
        self.receiptGrace = receiptGrace
        self.clock = clock
    }

    /// Merges a status; returns whether it was newer than the cached one.
    @discardableResult
    func record(_ name: String, _ status: SageMakerJobStatus, receipt: String? = nil) -> Bool {
        var entry = entries[name] ?? Entry(kind: status.kind, refreshedAt: clock.now)
        let newer =
            entry.status.map {
                status.rank > $0.rank || (status.rank == $0.rank && (status.lastModifiedAt ?? .distantPast) > ($0.lastModifiedAt ?? .distantPast))
            } ?? true
        if newer { entry.status = status }
        entry.kind = status.kind
        entry.refreshedAt = clock.now
        if let receipt { entry.newReceipts.append(receipt) }
        entries[name] = entry
        return newer
    }

    /// Remembers which API family a name belongs to (from a listing) without a status.
    func recordKind(_ name: String, _ kind: SageMakerJobKind) {
        entries[name, default: Entry(refreshedAt: clock.now)].kind = kind
    }

    /// Forgets a job that does not exist (so the next observe asks again).
    func forget(_ name: String) { entries[name] = nil }

    func kind(_ name: String) -> SageMakerJobKind? { entries[name]?.kind }

    /// The cached status, without counting as an observation.
    func status(_ name: String) -> SageMakerJobStatus? { entries[name]?.status }

    func isTracked(_ name: String) -> Bool { entries[name]?.tracked ?? false }

    /// The cached status for a tracked job's `observe`, and the receipts now safe to delete.
    func observe(_ name: String) -> (status: SageMakerJobStatus?, receiptsToDelete: [String]) {
        guard var entry = entries[name] else { return (nil, []) }
        entry.tracked = true
        entry.observedAt = clock.now
        let done = entry.shownReceipts
        entry.shownReceipts = entry.newReceipts
        entry.newReceipts = []
        entry.shownAt = entry.shownReceipts.isEmpty ? nil : clock.now
        entries[name] = entry
        return (entry.status, done)
    }

    /// Marks a job tracked (ensure created or adopted it here).
    func track(_ name: String, kind: SageMakerJobKind) {
        entries[name, default: Entry(refreshedAt: clock.now)].tracked = true
        entries[name]?.kind = kind
    }

    /// Tracked jobs not known to be finished whose state is older than `age`: due for a Describe.
    func due(olderThan age: Duration) -> [(name: String, kind: SageMakerJobKind?)] {
        let now = clock.now
        return entries.filter { $0.value.tracked && !($0.value.status?.isTerminal ?? false) && $0.value.refreshedAt.duration(to: now) >= age }
            .map { (name: $0.key, kind: $0.value.kind) }
    }

    /// Receipts shown longer than the grace period ago, and receipts of jobs nobody observed
    /// for that long (their tracking ended), removed from the cache; terminal entries untouched
    /// for an hour are dropped.
    func expiredReceipts() -> [String] {
        let now = clock.now
        var expired: [String] = []
        for (name, entry) in entries {
            if let shownAt = entry.shownAt, shownAt.duration(to: now) >= receiptGrace {
                expired += entry.shownReceipts
                entries[name]?.shownReceipts = []
                entries[name]?.shownAt = nil
            }
            if entry.tracked, !entry.newReceipts.isEmpty, (entry.observedAt ?? entry.refreshedAt).duration(to: now) >= receiptGrace {
                expired += entry.newReceipts
                entries[name]?.newReceipts = []
            }
            if entry.status?.isTerminal ?? false, entry.refreshedAt.duration(to: now) > .seconds(3600), entry.newReceipts.isEmpty,
                entry.shownReceipts.isEmpty
            {
                entries[name] = nil
            }
        }
        return expired
    }
}
