import Testing

@testable import TrainyardKafka

/// The consumer's flow control on given instants (no broker): the poll thread waits up to
/// `maximumStall` for a caller that is behind, then pauses fetching until the buffer is half empty.
@Suite("Kafka consumer stall before pausing")
struct KafkaConsumerStallTests {
    let capacity = 4
    let stall: Duration = .seconds(1)
    let start = ContinuousClock.now

    private func fill(_ state: inout ConsumerState, to count: Int) {
        state.buffer = Array(repeating: .assigned([]), count: count)
    }

    /// Whether the poll thread, about to poll at `now`, waits for the caller instead.
    private func waits(_ state: inout ConsumerState, at now: ContinuousClock.Instant) -> Bool {
        state.shouldWaitForRoom(capacity: capacity, now: now, maximumStall: stall)
    }

    /// Whether the poll begun at `now` pauses or resumes fetching.
    private func toggles(_ state: inout ConsumerState, at now: ContinuousClock.Instant) -> Bool {
        state.updateInternalPause(capacity: capacity, now: now, maximumStall: stall)
    }

    @Test("a buffer with room neither waits nor pauses")
    func room() {
        var state = ConsumerState()
        fill(&state, to: capacity - 1)
        let waited = waits(&state, at: start)
        let toggled = toggles(&state, at: start + stall)
        #expect(!waited && !toggled)
        #expect(state.fullSince == nil && !state.internallyPaused)
    }

    @Test("a full buffer waits for the caller until the stall is over, then pauses fetching")
    func stallThenPause() {
        var state = ConsumerState()
        fill(&state, to: capacity)
        let waitedAtFirst = waits(&state, at: start)
        #expect(waitedAtFirst && state.fullSince == start)
        let justBefore = start + stall - .milliseconds(1)
        let waitedJustBefore = waits(&state, at: justBefore)
        let toggledJustBefore = toggles(&state, at: justBefore)
        #expect(waitedJustBefore && !toggledJustBefore, "still within the stall")
        #expect(state.fullSince == start, "the stall counts from when the buffer first filled")

        let over = start + stall
        let waitedOver = waits(&state, at: over)
        let toggledOver = toggles(&state, at: over)
        #expect(!waitedOver, "the stall is over: poll")
        #expect(toggledOver && state.internallyPaused)
        let waitedPaused = waits(&state, at: over + stall)
        let toggledPaused = toggles(&state, at: over + stall)
        #expect(!waitedPaused, "paused: go on polling")
        #expect(!toggledPaused && state.internallyPaused, "stays paused while full")
    }

    @Test("a buffer that drains during the stall restarts it")
    func drainRestartsStall() {
        var state = ConsumerState()
        fill(&state, to: capacity)
        _ = waits(&state, at: start)
        fill(&state, to: capacity - 1)
        let waitedWithRoom = waits(&state, at: start + .milliseconds(500))
        #expect(!waitedWithRoom && state.fullSince == nil)
        fill(&state, to: capacity)
        let refilled = start + .milliseconds(900)
        let waitedRefilled = waits(&state, at: refilled)
        let waitedLater = waits(&state, at: start + stall)
        let toggledLater = toggles(&state, at: start + stall)
        #expect(waitedRefilled && waitedLater && !toggledLater, "the stall counts from the refill")
        let toggledAfterStall = toggles(&state, at: refilled + stall)
        #expect(toggledAfterStall && state.internallyPaused)
    }

    @Test("fetching resumes once the buffer has drained to half, not before")
    func resumeAtHalf() {
        var state = ConsumerState()
        fill(&state, to: capacity)
        _ = waits(&state, at: start)
        let paused = toggles(&state, at: start + stall)
        #expect(paused && state.internallyPaused)
        fill(&state, to: capacity / 2 + 1)
        let toggledAboveHalf = toggles(&state, at: start + stall)
        #expect(!toggledAboveHalf && state.internallyPaused)
        fill(&state, to: capacity / 2)
        let toggledAtHalf = toggles(&state, at: start + stall)
        #expect(toggledAtHalf && !state.internallyPaused)
    }
}
