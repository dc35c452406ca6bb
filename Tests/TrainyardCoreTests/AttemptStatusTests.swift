import Foundation
import Testing
import TrainyardCore
import TrainyardTesting

/// `AttemptStatus`, the order-independent merge of one attempt's events, and the `JobState`
/// order it relies on.
@Suite("AttemptStatus")
struct AttemptStatusTests {
    static let jobID = JobID.derived(team: "ml-research", idempotencyKey: "attempt-status")
    static let t0 = Fixtures.submittedAt

    static func event(
        _ state: JobState, _ source: EventSource, at milliseconds: Int64 = 0, exitCode: Int32? = nil,
        reason: String? = nil, resourceName: String? = nil
    ) -> LifecycleEvent {
        LifecycleEvent(
            jobID: jobID, attempt: 1, state: state, source: source,
            occurredAt: t0.addingTimeInterval(Double(milliseconds) / 1000),
            resourceName: resourceName, exitCode: exitCode, reason: reason)
    }

    static func fold(_ events: [LifecycleEvent]) -> AttemptStatus {
        events.dropFirst().reduce(AttemptStatus(events[0])) { $0.merging($1) }
    }

    // MARK: the rules, one by one

    @Test("state only moves forward: RUNNING then PROVISIONING stays RUNNING")
    func forwardOnly() {
        let running = Self.event(.running, .worker, at: 10)
        let provisioning = Self.event(.provisioning, .worker, at: 20)
        #expect(Self.fold([running, provisioning]).state == .running)
        #expect(Self.fold([provisioning, running]).state == .running)
        #expect(Self.fold([running, provisioning]) == Self.fold([provisioning, running]))
    }

    @Test("a terminal state is final: SUCCEEDED then RUNNING stays SUCCEEDED")
    func terminalIsFinal() {
        let succeeded = Self.event(.succeeded, .backend, at: 10)
        let running = Self.event(.running, .backend, at: 20)
        #expect(Self.fold([succeeded, running]).state == .succeeded)
        #expect(Self.fold([running, succeeded]).state == .succeeded)
        // Even a low-authority terminal report beats a later high-authority non-terminal one.
        let workerFailed = Self.event(.failed, .worker, at: 10)
        let backendRunning = Self.event(.running, .backend, at: 30)
        #expect(Self.fold([workerFailed, backendRunning]).state == .failed)
        #expect(Self.fold([backendRunning, workerFailed]).state == .failed)
    }

    struct Conflict: Sendable, CustomTestStringConvertible {
        var a: (JobState, EventSource)
        var b: (JobState, EventSource)
        var winner: JobState
        var testDescription: String { "\(a.1) \(a.0.rawValue) vs \(b.1) \(b.0.rawValue) → \(winner.rawValue)" }
    }

    @Test(
        "between terminal reports the higher authority wins, whichever comes first",
        arguments: [
            Conflict(a: (.failed, .worker), b: (.succeeded, .backend), winner: .succeeded),
            Conflict(a: (.failed, .orchestrator), b: (.succeeded, .backend), winner: .succeeded),
            Conflict(a: (.succeeded, .worker), b: (.failed, .backend), winner: .failed),
            Conflict(a: (.succeeded, .orchestrator), b: (.failed, .worker), winner: .succeeded),
            Conflict(a: (.cancelled, .worker), b: (.timedOut, .orchestrator), winner: .timedOut),
            Conflict(a: (.failed, .backend), b: (.cancelled, .orchestrator), winner: .failed),
        ])
    func authority(_ conflict: Conflict) {
        for (first, second) in [(0, 50), (50, 0), (0, 0)] as [(Int64, Int64)] {
            let a = Self.event(conflict.a.0, conflict.a.1, at: first)
            let b = Self.event(conflict.b.0, conflict.b.1, at: second)
            let ab = Self.fold([a, b])
            let ba = Self.fold([b, a])
            #expect(ab.state == conflict.winner)
            #expect(ba.state == conflict.winner)
            #expect(ab == ba)
        }
    }

    @Test("firstSeen keeps the earliest time per state; lastSeen the latest of all")
    func firstAndLastSeen() {
        let events = [
            Self.event(.running, .worker, at: 500),
            Self.event(.provisioning, .worker, at: 300),
            Self.event(.running, .backend, at: 200),
            Self.event(.provisioning, .backend, at: 900),
            Self.event(.succeeded, .backend, at: 1000),
            Self.event(.running, .orchestrator, at: 700),
        ]
        let status = Self.fold(events)
        #expect(
            status.firstSeen == [
                .running: Self.t0.addingTimeInterval(0.2),
                .provisioning: Self.t0.addingTimeInterval(0.3),
                .succeeded: Self.t0.addingTimeInterval(1.0),
            ])
        #expect(status.lastSeen == Self.t0.addingTimeInterval(1.0))
        #expect(status.state == .succeeded)
        #expect(status.jobID == Self.jobID && status.attempt == 1)
    }

    @Test("the resource name is kept from whichever event carried one")
    func resourceName() {
        let named = Self.event(.provisioning, .worker, at: 1, resourceName: "ty-abc-1")
        let unnamed = Self.event(.running, .backend, at: 2)
        #expect(Self.fold([named, unnamed]).resourceName == "ty-abc-1")
        #expect(Self.fold([unnamed, named]).resourceName == "ty-abc-1")
        #expect(Self.fold([unnamed]).resourceName == nil)
    }

    @Test("a duplicated event changes nothing")
    func idempotent() {
        let events = [Self.event(.claimed, .worker, at: 1), Self.event(.failed, .backend, at: 9, exitCode: 1, reason: "exit 1")]
        let once = Self.fold(events)
        #expect(Self.fold(events + events) == once)
        #expect(once.merging(events[1]) == once)
        #expect(once.merging(events[0]) == once)
    }

    @Test("events that differ only below a millisecond still merge the same in either order")
    func subMillisecondTimes() {
        let a = Self.event(.running, .worker, at: 0)
        var b = a
        b.occurredAt = a.occurredAt.addingTimeInterval(0.0002)
        #expect(a != b)
        #expect(
            Self.fold([a, b]) == Self.fold([b, a]),
            "decisive: \(Self.fold([a, b]).decisive.occurredAt.timeIntervalSince1970) vs \(Self.fold([b, a]).decisive.occurredAt.timeIntervalSince1970)"
        )
    }

    // MARK: property: order and duplication do not matter

    static func randomEvent(using generator: inout SplitMix64) -> LifecycleEvent {
        LifecycleEvent(
            jobID: jobID, attempt: 1,
            state: JobState.allCases.randomElement(using: &generator)!,
            source: EventSource.allCases.randomElement(using: &generator)!,
            // Millisecond times (what the wire carries), few enough to collide often.
            occurredAt: t0.addingTimeInterval(Double(Int.random(in: 0..<40, using: &generator)) / 1000),
            team: [nil, "ml-research"].randomElement(using: &generator)!,
            backend: [nil, "local", "kubernetes"].randomElement(using: &generator)!,
            resourceName: [nil, nil, "ty-a-1", "ty-b-1"].randomElement(using: &generator)!,
            exitCode: [nil, 0, 1, 137, -9].randomElement(using: &generator)!,
            failureClass: [nil, .userError, .infrastructure].randomElement(using: &generator)!,
            reason: [nil, "OOMKilled", "exit 1", "spot interruption", "é", "e\u{301}x"].randomElement(using: &generator)!,
            workerID: [nil, "w1", "w2"].randomElement(using: &generator)!)
    }

    /// The state the rules say an attempt ends in, computed directly.
    static func expectedState(_ events: [LifecycleEvent]) -> JobState {
        let terminal = events.filter(\.state.isTerminal)
        if let top = terminal.map(\.source.authority).max() {
            return terminal.filter { $0.source.authority == top }.map(\.state).max()!
        }
        return events.map(\.state).max()!
    }

    @Test("any permutation with duplicates folds to the same status as the history in order")
    func orderAndDuplicationDoNotMatter() {
        let baseSeed: UInt64 = 0x7472_6169_6E79_6172
        var checked = 0
        for index in 0..<600 {
            let seed = SplitMix64.seed(baseSeed, case: index)
            var generator = SplitMix64(seed: seed)
            let history = (0..<Int.random(in: 1...10, using: &generator)).map { _ in Self.randomEvent(using: &generator) }
            let inOrder = Self.fold(history)

            let times = history.map(\.occurredAt)
            var expectedFirstSeen: [JobState: Date] = [:]
            for event in history { expectedFirstSeen[event.state] = min(expectedFirstSeen[event.state] ?? event.occurredAt, event.occurredAt) }
            let rulesHold =
                inOrder.state == Self.expectedState(history)
                && inOrder.firstSeen == expectedFirstSeen
                && inOrder.lastSeen == times.max()!
                && inOrder.resourceName == history.compactMap(\.resourceName).max()
                && history.contains(inOrder.decisive)
            #expect(rulesHold, "seed \(seed) (case \(index)): status \(inOrder.state.rawValue) breaks the rules for \(history)")
            if !rulesHold { return }

            for permutation in 0..<10 {
                var shuffled = history
                for event in history where Bool.random(using: &generator) {
                    shuffled.append(contentsOf: Array(repeating: event, count: Int.random(in: 1...2, using: &generator)))
                }
                shuffled.shuffle(using: &generator)
                let folded = Self.fold(shuffled)
                #expect(
                    folded == inOrder,
                    "seed \(seed) (case \(index), permutation \(permutation)): \(shuffled) gave \(folded.decisive), in order \(inOrder.decisive)")
                if folded != inOrder { return }
                checked += 1
            }
        }
        #expect(checked == 6000)
    }

    // MARK: JobState

    @Test("JobState order: forward through the lifecycle, terminal states last and tied in rank")
    func jobStateOrder() {
        let expectedRank: [JobState: Int] = [
            .queued: 0, .claimed: 1, .provisioning: 2, .pending: 3, .running: 4,
            .succeeded: 5, .failed: 5, .cancelled: 5, .timedOut: 5, .rejected: 5,
        ]
        #expect(JobState.allCases.count == expectedRank.count)
        for state in JobState.allCases {
            #expect(state.rank == expectedRank[state])
            #expect(state.isTerminal == (expectedRank[state] == 5), "\(state)")
        }
        #expect(Set(JobState.allCases.filter(\.isTerminal)) == [.succeeded, .failed, .cancelled, .timedOut, .rejected])
        #expect(
            JobState.allCases.sorted() == [
                .queued, .claimed, .provisioning, .pending, .running, .succeeded, .failed, .cancelled, .timedOut, .rejected,
            ])

        // A strict total order consistent with rank, checked over every pair.
        for a in JobState.allCases {
            #expect(!(a < a))
            for b in JobState.allCases where a != b {
                #expect((a < b) != (b < a), "\(a) vs \(b)")
                if a.rank < b.rank { #expect(a < b, "\(a) < \(b)") }
                for c in JobState.allCases where a < b && b < c { #expect(a < c, "\(a) < \(b) < \(c)") }
            }
        }
    }

    @Test("JobState raw values are the wire names", arguments: JobState.allCases)
    func jobStateRawValue(state: JobState) throws {
        let expected = ["QUEUED", "CLAIMED", "PROVISIONING", "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "REJECTED"]
        #expect(expected.contains(state.rawValue))
        #expect(JobState(rawValue: state.rawValue) == state)
        let json = try JSONEncoder().encode([state])
        #expect(String(decoding: json, as: UTF8.self) == "[\"\(state.rawValue)\"]")
    }

    @Test("EventSource authority: backend > orchestrator > worker > aggregator")
    func sourceAuthority() {
        let ordered = EventSource.allCases.sorted { $0.authority < $1.authority }
        #expect(ordered == [.aggregator, .worker, .orchestrator, .backend])
        #expect(Set(EventSource.allCases.map(\.authority)).count == EventSource.allCases.count)
    }
}
