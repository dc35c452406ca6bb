import Foundation
import LocalBackend
import Testing
import TrainyardBackends
import TrainyardCore
import TrainyardTesting

/// The local backend alone, with real supervisors and jobs: pushed observations, cancel, one
/// start per attempt whoever ensures it.
@Suite("Local backend with real processes")
struct LocalBackendTests {
    func backend(_ name: String) throws -> (LocalBackend, URL) {
        let state = try TestEnvironment.temporaryDirectory(name)
        let configuration = LocalBackendConfiguration(
            stateDirectory: state, supervisorExecutable: try TestEnvironment.executable("trainyard-local-supervise"), gracePeriodSeconds: 2)
        return (try LocalBackend(configuration: configuration, logger: TestEnvironment.logger(name)), state)
    }

    /// Follows pushed observations until `done` holds (a long timeout: a push, not the timeout, must end each wait).
    func follow(_ backend: LocalBackend, _ identity: BackendIdentity, from start: BackendObservation, until done: (BackendObservation) -> Bool)
        async throws -> BackendObservation
    {
        var observation = start
        let deadline = ContinuousClock.now + .seconds(60)
        while !done(observation), ContinuousClock.now < deadline {
            observation = try await backend.nextObservation(identity, after: observation, timeout: .seconds(30))
        }
        return observation
    }

    @Test("a running attempt is cancelled through its supervisor; its process is gone and the outcome is CANCELLED")
    func cancelRunning() async throws {
        let (backend, state) = try backend("local-cancel")
        defer { try? FileManager.default.removeItem(at: state) }
        let identity = BackendIdentity(jobID: JobID.generate(), attempt: 1, team: "t")
        let spec = JobSpec(name: "long", team: "t", command: ["sleep", "300"])
        let ensured = try await backend.ensure(identity, spec: spec)
        let running = try await follow(backend, identity, from: ensured) { if case .running = $0 { true } else { false } }
        guard case .running = running else {
            Issue.record("never ran: \(running)")
            return
        }
        try await backend.stop(identity, reason: "no longer needed")
        let finished = try await follow(backend, identity, from: running) { if case .finished = $0 { true } else { false } }
        guard case .finished(let outcome) = finished else {
            Issue.record("never finished: \(finished)")
            return
        }
        #expect(outcome.state == .cancelled)
        #expect(outcome.reason == "no longer needed")
    }

    @Test("ensuring one attempt from many tasks at once starts its job once")
    func oneStart() async throws {
        let (backend, state) = try backend("local-once")
        defer { try? FileManager.default.removeItem(at: state) }
        let identity = BackendIdentity(jobID: JobID.generate(), attempt: 1, team: "t")
        let spec = JobSpec(name: "count", team: "t", command: ["/bin/sh", "-c", "echo started >> ../starts.txt"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { _ = try await backend.ensure(identity, spec: spec) } }
            try await group.waitForAll()
        }
        let finished = try await follow(backend, identity, from: .absent) { if case .finished = $0 { true } else { false } }
        guard case .finished(let outcome) = finished else {
            Issue.record("never finished: \(finished)")
            return
        }
        #expect(outcome.state == .succeeded)
        let starts = try String(contentsOf: state.appendingPathComponent("runs/\(identity.resourceName)/starts.txt"), encoding: .utf8)
        #expect(starts == "started\n")
    }
}
