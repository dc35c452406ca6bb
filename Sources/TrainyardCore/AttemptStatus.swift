import Foundation

/// The merged view of every event seen for one attempt of one job.
///
/// `merging` is a join: associative, commutative and idempotent, so the result is the same for
/// any order or duplication of the same events. The rules (DESIGN.md, "Aggregator"):
/// - state only moves forward within an attempt; a terminal state is final;
/// - between terminal reports, the higher `EventSource.authority` wins;
/// - remaining ties are broken by a fixed total order on the events' contents.
public struct AttemptStatus: Sendable, Equatable {
    public var jobID: JobID
    public var attempt: Int
    /// The winning event; its state is the attempt's state.
    public private(set) var decisive: LifecycleEvent
    /// Earliest time each state was observed.
    public private(set) var firstSeen: [JobState: Date]
    /// Latest time any event of this attempt occurred.
    public private(set) var lastSeen: Date
    /// The backend resource name, from any event that carried one.
    public private(set) var resourceName: String?

    public init(_ event: LifecycleEvent) {
        jobID = event.jobID
        attempt = event.attempt
        decisive = event
        firstSeen = [event.state: event.occurredAt]
        lastSeen = event.occurredAt
        resourceName = event.resourceName
    }

    /// Restores a status saved from its parts (e.g. by the store).
    public init(decisive: LifecycleEvent, firstSeen: [JobState: Date], lastSeen: Date, resourceName: String?) {
        jobID = decisive.jobID
        attempt = decisive.attempt
        self.decisive = decisive
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.resourceName = resourceName
    }

    public var state: JobState { decisive.state }

    /// This status with `event` (of the same job and attempt) folded in.
    public func merging(_ event: LifecycleEvent) -> AttemptStatus {
        precondition(event.jobID == jobID && event.attempt == attempt, "merging an event of another attempt")
        var merged = self
        if AttemptStatus.precedes(decisive, event) { merged.decisive = event }
        merged.firstSeen[event.state] = min(firstSeen[event.state] ?? event.occurredAt, event.occurredAt)
        merged.lastSeen = max(lastSeen, event.occurredAt)
        if let name = event.resourceName { merged.resourceName = max(resourceName ?? name, name) }
        return merged
    }

    /// True when `challenger` should replace `current` as the decisive event.
    static func precedes(_ current: LifecycleEvent, _ challenger: LifecycleEvent) -> Bool {
        let lhs = rank(current)
        let rhs = rank(challenger)
        if lhs != rhs { return lhs.lexicographicallyPrecedes(rhs) }
        if current.state != challenger.state { return current.state < challenger.state }
        if current.occurredAt != challenger.occurredAt { return current.occurredAt < challenger.occurredAt }
        return canonical(current) < canonical(challenger)
    }

    /// (terminal?, authority when terminal, state rank): the forward-only and authority rules.
    private static func rank(_ event: LifecycleEvent) -> [Int] {
        event.state.isTerminal ? [1, event.source.authority, event.state.rank] : [0, 0, event.state.rank]
    }

    private static func canonical(_ event: LifecycleEvent) -> String {
        (try? LifecycleEventCodec.encode(event)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}
