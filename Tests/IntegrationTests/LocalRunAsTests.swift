import Foundation
import Glibc
import LocalBackend
import LocalSupervision
import Testing
import TrainyardBackends
import TrainyardCore
import TrainyardTesting

/// Issue #13 item 13: with `runAs`, a local job runs as an unprivileged user (here `nobody`) and
/// cannot touch the records that decide its outcome or another run's (real supervisor and job).
@Suite("Local jobs as an unprivileged user", .enabled(if: geteuid() == 0, "needs root to change user"))
struct LocalRunAsTests {
    let nobody = JobUser(uid: 65534, gid: 65534)

    /// A local backend whose jobs run as `nobody`, and its new state directory (the caller removes it).
    func makeBackend() throws -> (LocalBackend, state: URL) {
        let state = try TestEnvironment.temporaryDirectory("local-run-as")
        do {
            let backend = try LocalBackend(
                configuration: LocalBackendConfiguration(
                    stateDirectory: state, supervisorExecutable: try TestEnvironment.executable("trainyard-local-supervise"), gracePeriodSeconds: 2,
                    runAs: nobody),
                logger: TestEnvironment.logger("local-run-as"))
            return (backend, state)
        } catch {
            try? FileManager.default.removeItem(at: state)
            throw error
        }
    }

    func finished(_ backend: LocalBackend, _ identity: BackendIdentity, _ spec: JobSpec) async throws -> BackendOutcome? {
        var observation = try await backend.ensure(identity, spec: spec)
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if case .finished(let outcome) = observation { return outcome }
            observation = try await backend.nextObservation(identity, after: observation, timeout: .seconds(30))
        }
        return nil
    }

    @Test("the job's uid is the configured one; it cannot write its own status file nor another run's cancel file; its output is captured")
    func unprivilegedJob() async throws {
        let (backend, state) = try makeBackend()
        defer { try? FileManager.default.removeItem(at: state) }

        let other = BackendIdentity(jobID: JobID.generate(), attempt: 1, team: "a")
        let first = try #require(try await finished(backend, other, JobSpec(name: "other", team: "a", command: ["true"])))
        #expect(first.state == .succeeded)

        let identity = BackendIdentity(jobID: JobID.generate(), attempt: 1, team: "b")
        let otherRun = "../../ty-\(other.jobID.rawValue)-a1"
        let script = """
            id -u; id -g
            if echo forged > ../status.json 2>/dev/null; then echo own-status=written; else echo own-status=denied; fi
            if echo stop > \(otherRun)/cancel 2>/dev/null; then echo other-cancel=written; else echo other-cancel=denied; fi
            if echo forged > \(otherRun)/status.json 2>/dev/null; then echo other-status=written; else echo other-status=denied; fi
            if echo mine > result.txt; then echo work=writable; fi
            echo to-stderr >&2
            """
        let outcome = try #require(try await finished(backend, identity, JobSpec(name: "probe", team: "b", command: ["/bin/sh", "-c", script])))
        let run = state.appendingPathComponent("runs/ty-\(identity.jobID.rawValue)-a1")
        let stdout = try String(contentsOf: run.appendingPathComponent("stdout.log"), encoding: .utf8)
        #expect(outcome.state == .succeeded, "\(outcome)")
        #expect(
            stdout == "65534\n65534\nown-status=denied\nother-cancel=denied\nother-status=denied\nwork=writable\n",
            "stdout: \(stdout)")
        // The shell reports each refused redirection on stderr, before the job's own line.
        let stderr = try String(contentsOf: run.appendingPathComponent("stderr.log"), encoding: .utf8)
        #expect(stderr.hasSuffix("to-stderr\n") && stderr.components(separatedBy: "Permission denied").count == 4, "stderr: \(stderr)")
        let otherDirectory = state.appendingPathComponent("runs/ty-\(other.jobID.rawValue)-a1")
        #expect(!FileManager.default.fileExists(atPath: otherDirectory.appendingPathComponent("cancel").path))
        let status = try FileManager.default.attributesOfItem(atPath: run.appendingPathComponent("status.json").path)
        #expect(status[.ownerAccountID] as? Int == 0)
    }

    @Test("a job that cannot be started as the user fails as a user error, with the reason")
    func missingProgram() async throws {
        let (backend, state) = try makeBackend()
        defer { try? FileManager.default.removeItem(at: state) }
        let identity = BackendIdentity(jobID: JobID.generate(), attempt: 1, team: "b")
        let outcome = try #require(try await finished(backend, identity, JobSpec(name: "missing", team: "b", command: ["no-such-program-xyz"])))
        #expect(outcome.state == .failed && outcome.exitCode == 127, "\(outcome)")
        #expect(outcome.reason?.contains("cannot execute no-such-program-xyz") == true, "\(outcome)")
    }
}
