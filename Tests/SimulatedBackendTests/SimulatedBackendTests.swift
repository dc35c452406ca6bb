import Foundation
import SimulatedBackend
import Synchronization
import Testing
import TrainyardBackends
import TrainyardCore
import TrainyardTesting

/// A wall clock the test moves by hand.
final class ManualClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { current.withLock { $0 } }
    func advance(_ seconds: Double) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// One state file in a temporary directory, and backends (as separate workers would have) on it.
struct SimulatedHost {
    let directory: URL
    let clock = ManualClock()
    var stateFile: URL { directory.appendingPathComponent("simulated.sqlite") }

    init() throws { directory = try TestEnvironment.temporaryDirectory("simulated") }

    func backend(_ script: SimulatedScript = SimulatedScript(runSeconds: 10)) throws -> SimulatedBackend {
        let clock = clock
        return try SimulatedBackend(configuration: SimulatedBackendConfiguration(stateFile: stateFile, script: script, now: { clock.now }))
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

func identity(_ attempt: Int = 1, job: JobID = .generate()) -> BackendIdentity {
    BackendIdentity(jobID: job, attempt: attempt, team: "sim")
}

func spec(labels: [String: String] = [:], maxRuntimeSeconds: Int = 3600) -> JobSpec {
    JobSpec(name: "simulated", team: "sim", command: ["true"], maxRuntimeSeconds: maxRuntimeSeconds, labels: labels)
}

@Suite("Simulated backend")
struct SimulatedBackendTests {
    @Test("the attempt is recorded under BackendIdentity's resource name and listed by job")
    func identityAndListing() async throws {
        let host = try SimulatedHost()
        defer { host.remove() }
        let backend = try host.backend()
        let job = JobID.generate()
        #expect(try await backend.existingAttempts(of: job) == [])
        #expect(try await backend.observe(identity(1, job: job)) == .absent)
        _ = try await backend.ensure(identity(1, job: job), spec: spec())
        _ = try await backend.ensure(identity(2, job: job), spec: spec())
        #expect(try await backend.existingAttempts(of: job) == [1, 2])
        let stored = try #require(try backend.attemptLedger.attempt(named: identity(2, job: job).resourceName))
        #expect(stored.resourceName == "ty-\(job.rawValue)-a2" && stored.jobID == job && stored.attempt == 2 && stored.team == "sim")
    }

    @Test("a second ensure, from this or another worker, adopts the attempt: same timeline, one start")
    func adopt() async throws {
        let host = try SimulatedHost()
        defer { host.remove() }
        let first = try host.backend()
        let attempt = identity()
        #expect(try await first.ensure(attempt, spec: spec()) == .running(since: host.clock.now))
        host.clock.advance(4)
        let second = try host.backend()
        #expect(try await second.ensure(attempt, spec: spec(labels: [SimulationLabel.seconds.rawValue: "1"])) == .running(since: host.clock.now.addingTimeInterval(-4)))
        #expect(try await first.ensure(attempt, spec: spec()) == .running(since: host.clock.now.addingTimeInterval(-4)))
        #expect(try first.attemptLedger.startCount(of: attempt.resourceName) == 1)
        host.clock.advance(6)
        guard case .finished(let outcome) = try await second.observe(attempt) else { Issue.record("not finished after its 10 s"); return }
        #expect(outcome.state == .succeeded && outcome.exitCode == 0)
    }

    @Test("two backends on one state file, racing ensures of the same attempts: each attempt starts exactly once")
    func noDoubleStart() async throws {
        let host = try SimulatedHost()
        defer { host.remove() }
        let backends = [try host.backend(), try host.backend()]
        let attempts = (0..<20).map { _ in identity() }
        let results = try await withThrowingTaskGroup(of: (String, BackendObservation).self) { group in
            for attempt in attempts {
                for round in 0..<6 {
                    group.addTask { (attempt.resourceName, try await backends[round % 2].ensure(attempt, spec: spec())) }
                }
            }
            return try await group.reduce(into: [String: Set<String>]()) { $0[$1.0, default: []].insert("\($1.1)") }
        }
        for attempt in attempts {
            #expect(results[attempt.resourceName]?.count == 1, "\(attempt): \(results[attempt.resourceName] ?? [])")
            #expect(try backends[0].attemptLedger.startCount(of: attempt.resourceName) == 1)
        }
    }

    @Test("stop ends a running attempt CANCELLED with its reason; before the start it never ran; after the end it changes nothing")
    func cancel() async throws {
        let host = try SimulatedHost()
        defer { host.remove() }
        let backend = try host.backend(SimulatedScript(pendingSeconds: 5, runSeconds: 10))
        let running = identity()
        let pending = identity()
        let finished = identity()
        _ = try await backend.ensure(running, spec: spec())
        _ = try await backend.ensure(pending, spec: spec(labels: [SimulationLabel.pendingSeconds.rawValue: "60"]))
        _ = try await backend.ensure(finished, spec: spec(labels: [SimulationLabel.seconds.rawValue: "1"]))
        host.clock.advance(7)
        #expect(try await backend.observe(running) == .running(since: host.clock.now.addingTimeInterval(-2)))
        #expect(try await backend.observe(pending) == .pending(reason: "simulated: waiting to start"))
        try await backend.stop(running, reason: "no longer needed")
        try await backend.stop(pending, reason: "no longer needed")
        try await backend.stop(finished, reason: "too late")
        try await backend.stop(identity(), reason: "never created")
        host.clock.advance(1)
        let other = try host.backend()
        guard case .finished(let cancelled) = try await other.observe(running),
            case .finished(let neverRan) = try await other.observe(pending),
            case .finished(let natural) = try await other.observe(finished)
        else { Issue.record("stopped attempts must be finished"); return }
        #expect(cancelled.state == .cancelled && cancelled.reason == "no longer needed" && cancelled.startedAt != nil)
        #expect(neverRan.state == .cancelled && neverRan.startedAt == nil)
        #expect(natural.state == .succeeded)
        // A second stop keeps the first one's time and reason.
        try await backend.stop(running, reason: "again")
        #expect(try await other.observe(running) == .finished(cancelled))
    }

    @Test("an attempt that would run past the spec's maxRuntimeSeconds ends TIMED_OUT at the limit")
    func maxRuntime() async throws {
        let host = try SimulatedHost()
        defer { host.remove() }
        let backend = try host.backend(SimulatedScript(runSeconds: 30))
        let attempt = identity()
        let started = host.clock.now
        _ = try await backend.ensure(attempt, spec: spec(maxRuntimeSeconds: 5))
        host.clock.advance(4.9)
        #expect(try await backend.observe(attempt) == .running(since: started))
        host.clock.advance(0.2)
        guard case .finished(let outcome) = try await backend.observe(attempt) else { Issue.record("not finished at its limit"); return }
        #expect(outcome.state == .timedOut && outcome.finishedAt == started.addingTimeInterval(5) && outcome.startedAt == started)
    }

    @Test(
        "labels choose the outcome, exit code and duration",
        arguments: [
            ([:], JobState.succeeded, Int32?.some(0), FailureClass?.none),
            ([SimulationLabel.exitCode.rawValue: "3"], .failed, 3, .userError),
            ([SimulationLabel.exitCode.rawValue: "0"], .succeeded, 0, nil),
            ([SimulationLabel.outcome.rawValue: "failed"], .failed, 1, .userError),
            ([SimulationLabel.outcome.rawValue: "failed", SimulationLabel.exitCode.rawValue: "42"], .failed, 42, .userError),
            ([SimulationLabel.outcome.rawValue: "infrastructure-failure"], .failed, nil, .infrastructure),
            ([SimulationLabel.failureRatio.rawValue: "1"], .failed, 1, .userError),
        ])
    func outcomeFromLabels(labels: [String: String], state: JobState, exitCode: Int32?, failureClass: FailureClass?) async throws {
        let host = try SimulatedHost()
        defer { host.remove() }
        let backend = try host.backend(SimulatedScript(runSeconds: 2))
        let attempt = identity()
        var labels = labels
        labels[SimulationLabel.seconds.rawValue] = "7.5"
        let created = host.clock.now
        #expect(try await backend.ensure(attempt, spec: spec(labels: labels)) == .running(since: created))
        host.clock.advance(7.4)
        #expect(try await backend.observe(attempt) == .running(since: created))
        host.clock.advance(0.2)
        guard case .finished(let outcome) = try await backend.observe(attempt) else { Issue.record("not finished after 7.5 s"); return }
        #expect(outcome.state == state && outcome.exitCode == exitCode && outcome.failureClass == failureClass, "\(labels): \(outcome)")
        #expect(outcome.finishedAt == created.addingTimeInterval(7.5))
    }

    @Test("bad label values are invalid requests that name the label")
    func badLabels() async throws {
        let host = try SimulatedHost()
        defer { host.remove() }
        let backend = try host.backend()
        let cases: [(SimulationLabel, String)] = [
            (.seconds, "soon"), (.seconds, "-1"), (.seconds, "1e300"), (.seconds, "nan"), (.exitCode, "256"), (.exitCode, "x"),
            (.outcome, "exploded"), (.failureRatio, "1.5"), (.pendingSeconds, "inf"),
        ]
        for (label, value) in cases {
            do throws(BackendError) {
                _ = try await backend.ensure(identity(), spec: spec(labels: [label.rawValue: value]))
                Issue.record("\(label.rawValue)=\(value) was accepted")
            } catch {
                #expect(error.kind == .invalidRequest && error.message.contains(label.rawValue), "\(error)")
            }
        }
    }

    @Test("a failure ratio fails that share of attempts, the same ones on every worker")
    func failureRatio() async throws {
        let host = try SimulatedHost()
        defer { host.remove() }
        let script = SimulatedScript(runSeconds: 1, failureRatio: 0.3)
        let (first, second) = (try host.backend(script), try host.backend(script))
        let attempts = (0..<200).map { _ in identity() }
        var failed = 0
        for attempt in attempts { _ = try await first.ensure(attempt, spec: spec()) }
        host.clock.advance(2)
        for attempt in attempts {
            guard case .finished(let outcome) = try await second.observe(attempt) else { Issue.record("\(attempt) not finished"); continue }
            if outcome.state == .failed { failed += 1 }
        }
        #expect((30...90).contains(failed), "\(failed) of 200 failed at ratio 0.3")
    }

    @Test("after its worker is gone, a successor on the state file adopts the attempt and sees it end on time")
    func crashRecovery() async throws {
        let host = try SimulatedHost()
        defer { host.remove() }
        let attempt = identity()
        let created = host.clock.now
        do {
            let crashed = try host.backend(SimulatedScript(runSeconds: 20))
            _ = try await crashed.ensure(attempt, spec: spec())
        }
        host.clock.advance(5)
        let successor = try host.backend(SimulatedScript(runSeconds: 1))
        #expect(try await successor.existingAttempts(of: attempt.jobID) == [1])
        #expect(try await successor.ensure(attempt, spec: spec()) == .running(since: created))
        host.clock.advance(15)
        guard case .finished(let outcome) = try await successor.observe(attempt) else { Issue.record("not finished after 20 s"); return }
        #expect(outcome.state == .succeeded && outcome.finishedAt == created.addingTimeInterval(20))
        #expect(try successor.attemptLedger.startCount(of: attempt.resourceName) == 1)
    }

    /// Driven by the host's clock, not wall time: the stop lands while the attempt still runs
    /// however slowly the machine gets to it, and the tracking backend reads the outcome only when
    /// its cached timeline says the attempt ended.
    @Test("a stop another worker recorded decides the outcome this worker's next observation reports", .timeLimit(.minutes(10)))
    func stopFromAnotherWorker() async throws {
        let host = try SimulatedHost()
        defer { host.remove() }
        let (tracking, stopping) = (try host.backend(SimulatedScript(runSeconds: 3)), try host.backend(SimulatedScript(runSeconds: 3)))
        let attempt = identity()
        let running = try await tracking.ensure(attempt, spec: spec())
        host.clock.advance(1)
        try await stopping.stop(attempt, reason: "stopped elsewhere")
        host.clock.advance(5)
        let next = try await tracking.nextObservation(attempt, after: running, timeout: .seconds(3600))
        guard case .finished(let outcome) = next else { Issue.record("not finished: \(next)"); return }
        #expect(outcome.state == .cancelled && outcome.reason == "stopped elsewhere")
    }

    /// Pushed, not polled: the caller's timeout is an hour, so only wake-ups at the scripted
    /// changes return within the test's time limit; each return is a change (how many the test
    /// sees depends on how late it runs: on a busy machine the start may already be past).
    @Test("nextObservation returns at the attempt's scripted changes, long before the caller's timeout", .timeLimit(.minutes(10)))
    func nextObservationIsPushed() async throws {
        let host = try SimulatedHost()
        defer { host.remove() }
        let backend = try SimulatedBackend(
            configuration: SimulatedBackendConfiguration(stateFile: host.stateFile, script: SimulatedScript(pendingSeconds: 1, runSeconds: 1)))
        let attempt = identity()
        var observation = try await backend.ensure(attempt, spec: spec())
        while true {
            if case .finished(let outcome) = observation {
                #expect(outcome.state == .succeeded && outcome.exitCode == 0)
                break
            }
            let next = try await backend.nextObservation(attempt, after: observation, timeout: .seconds(3600))
            #expect(next != observation, "returned without a change")
            observation = next
        }
    }
}
