import Foundation
import Testing
import TrainyardBackends
import TrainyardCore

@testable import TrainyardWorker

/// A hand-moved clock's instant: the tracking is fed times, it reads none.
struct TestInstant: InstantProtocol {
    var offset: Duration

    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (lhs: TestInstant, rhs: TestInstant) -> Bool { lhs.offset < rhs.offset }

    static func at(_ seconds: Int) -> TestInstant { TestInstant(offset: .seconds(seconds)) }
}

/// One attempt's tracking as a pure state machine: launch, adoption, launch timeout, capacity
/// backpressure, cancel, heartbeats.
@Suite("Attempt tracking")
struct AttemptTrackingTests {
    typealias Tracking = AttemptTracking<TestInstant>
    typealias Report = Tracking.Report

    let started = Date(timeIntervalSince1970: 1_800_000_000)
    var succeeded: BackendOutcome { BackendOutcome(state: .succeeded, exitCode: 0, finishedAt: started + 1, startedAt: started) }

    func tracking() -> Tracking { Tracking(launchTimeout: .seconds(10), heartbeatInterval: .seconds(60)) }

    @Test("a new attempt: claimed, ensured, provisioning, pending, running, finished; each state reported once")
    func newAttempt() {
        var tracking = tracking()
        var step = tracking.started(.absent, now: .at(0), cancelReason: nil)
        #expect(step == .init(effects: [.report(Report(state: .claimed, source: .worker)), .claimed], next: .ensure))
        step = tracking.ensured(.success(.pending(reason: "starting")), now: .at(1), cancelReason: nil)
        #expect(
            step
                == .init(
                    effects: [.report(Report(state: .provisioning, source: .worker)), .report(Report(state: .pending, source: .backend, reason: "starting"))],
                    next: .observe(after: .pending(reason: "starting"))))
        step = tracking.observed(.pending(reason: "starting"), now: .at(2), cancelReason: nil)
        #expect(step == .init(effects: [], next: .observe(after: .pending(reason: "starting"))), "nothing new, nothing reported")
        step = tracking.observed(.running(since: started), now: .at(3), cancelReason: nil)
        #expect(step == .init(effects: [.report(Report(state: .running, source: .backend, at: started))], next: .observe(after: .running(since: started))))
        step = tracking.observed(.pending(reason: "later news"), now: .at(4), cancelReason: nil)
        #expect(step.effects.isEmpty, "a pending reason after RUNNING is not news")
        step = tracking.observed(.finished(succeeded), now: .at(5), cancelReason: nil)
        #expect(step == .init(effects: [], next: .finished(succeeded)))
    }

    @Test("an adopted attempt is not claimed again, and a finished one reports RUNNING before its outcome")
    func adoptedAttempt() {
        var tracking = tracking()
        let step = tracking.started(.finished(succeeded), now: .at(0), cancelReason: "too late")
        #expect(step == .init(effects: [.report(Report(state: .running, source: .backend, at: started))], next: .finished(succeeded)))
    }

    @Test("a cancel before anything exists ends the attempt without the backend")
    func cancelledBeforeClaim() {
        var tracking = tracking()
        #expect(tracking.started(.absent, now: .at(0), cancelReason: "stop").next == .givenUp(state: .cancelled, failureClass: nil, reason: "stop"))
    }

    @Test("a launched attempt that stays absent is launched again only after the launch timeout")
    func launchTimeout() {
        var tracking = tracking()
        _ = tracking.started(.absent, now: .at(0), cancelReason: nil)
        _ = tracking.ensured(.success(.pending(reason: nil)), now: .at(0), cancelReason: nil)
        #expect(tracking.observed(.absent, now: .at(5), cancelReason: nil).next == .observe(after: .absent))
        #expect(tracking.observed(.absent, now: .at(10), cancelReason: nil).next == .observe(after: .absent))
        #expect(tracking.observed(.absent, now: .at(11), cancelReason: nil).next == .ensure)
        let again = tracking.ensured(.success(.pending(reason: nil)), now: .at(11), cancelReason: nil)
        #expect(!again.effects.contains(.report(Report(state: .provisioning, source: .worker))), "PROVISIONING is reported once")
    }

    @Test("capacity errors block claiming until ensure succeeds; other errors are retried sooner; invalid requests fail")
    func ensureFailures() {
        var tracking = Tracking(launchTimeout: .seconds(10), heartbeatInterval: .seconds(60), capacityRetry: .seconds(5), errorRetry: .seconds(1))
        _ = tracking.started(.absent, now: .at(0), cancelReason: nil)
        var step = tracking.ensured(.failure(BackendError(.capacity, "quota")), now: .at(0), cancelReason: nil)
        #expect(step == .init(effects: [.capacityBlocked(true)], next: .observeAfter(.seconds(5))))
        step = tracking.observed(.absent, now: .at(5), cancelReason: nil)
        #expect(step.next == .ensure, "never launched: ensure again")
        step = tracking.ensured(.failure(BackendError(.capacity, "quota")), now: .at(5), cancelReason: nil)
        #expect(step.effects.isEmpty, "still blocked: said once")
        step = tracking.ensured(.failure(BackendError(.transient, "network")), now: .at(10), cancelReason: nil)
        #expect(step == .init(effects: [.capacityBlocked(false)], next: .observeAfter(.seconds(1))))
        step = tracking.ensured(.failure(BackendError(.invalidRequest, "no such image")), now: .at(11), cancelReason: nil)
        #expect(step.next == .givenUp(state: .failed, failureClass: .invalidRequest, reason: "no such image"))
    }

    @Test("a job cancelled while out of capacity ends without a stop: nothing was launched")
    func cancelledWhileBlocked() {
        var tracking = tracking()
        _ = tracking.started(.absent, now: .at(0), cancelReason: nil)
        _ = tracking.ensured(.failure(BackendError(.capacity, "quota")), now: .at(0), cancelReason: nil)
        #expect(tracking.observed(.absent, now: .at(5), cancelReason: "stop").next == .givenUp(state: .cancelled, failureClass: nil, reason: "stop"))
    }

    @Test("a cancel of a running attempt asks the backend to stop until it accepted, then waits for the outcome")
    func cancelRunning() {
        var tracking = tracking()
        _ = tracking.started(.running(since: started), now: .at(0), cancelReason: nil)
        var step = tracking.observed(.running(since: started), now: .at(1), cancelReason: "stop")
        #expect(step == .init(effects: [.stop(reason: "stop")], next: .observe(after: .running(since: started))))
        step = tracking.observed(.running(since: started), now: .at(2), cancelReason: "stop")
        #expect(step.effects == [.stop(reason: "stop")], "the stop failed: asked again")
        tracking.stopRequested()
        step = tracking.observed(.running(since: started), now: .at(3), cancelReason: "stop")
        #expect(step.effects.isEmpty)
    }

    @Test("the latest report is repeated as a heartbeat once per interval while nothing changes")
    func heartbeats() {
        var tracking = tracking()
        _ = tracking.started(.running(since: started), now: .at(0), cancelReason: nil)
        let running = Report(state: .running, source: .backend, at: started)
        #expect(tracking.observed(.running(since: started), now: .at(59), cancelReason: nil).effects.isEmpty)
        #expect(tracking.observed(.running(since: started), now: .at(60), cancelReason: nil).effects == [.heartbeat(running)])
        #expect(tracking.observed(.running(since: started), now: .at(61), cancelReason: nil).effects.isEmpty)
        #expect(tracking.observed(.running(since: started), now: .at(120), cancelReason: nil).effects == [.heartbeat(running)])
    }

    @Test("the slot backlog pauses consumption at its capacity and resumes at half of it")
    func slotBacklog() {
        let backlog = SlotBacklog(capacity: 8)
        #expect(!backlog.isFull(waiting: 7, paused: false))
        #expect(backlog.isFull(waiting: 8, paused: false))
        #expect(backlog.isFull(waiting: 5, paused: true), "stays paused above half")
        #expect(!backlog.isFull(waiting: 4, paused: true))
        #expect(WorkerConfiguration(slotBacklog: 0).slotBacklog == 1, "at least one request may wait")
    }
}
