import Foundation
import Testing
import TrainyardCore
import TrainyardStore
import TrainyardTesting

/// A job that started under a secret policy the fleet tightens while it runs: the worker that
/// re-reads its request after a hand-over adopts it to its end (it is not REJECTED while its
/// compute keeps running) and starts no further attempt with the secret it no longer allows.
@Suite("Secret policy tightened while a job runs", .serialized)
struct PolicyTightenedMidRunTests {
    func workerConfig(_ fleet: Fleet, _ name: String, secretsDir: URL, grant: Bool) throws -> String {
        let path = fleet.home.appendingPathComponent("\(name).yaml").path
        let secrets = grant ? "secrets: {grants: [{teams: [search], names: [shared-token]}]}\n" : ""
        try "\(secrets)backends:\n  - {name: laptop, type: local, secretsDir: \(secretsDir.path)}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("a redelivered submit of a running job is adopted, not rejected, and not retried past the tightened policy")
    func tightenedMidRun() async throws {
        try await Fleet.with(name: "policy-mid-run", partitions: 1) { fleet in
            let secretsDir = fleet.home.appendingPathComponent("secrets")
            try FileManager.default.createDirectory(at: secretsDir, withIntermediateDirectories: true)
            try Data("value\n".utf8).write(to: secretsDir.appendingPathComponent("shared-token"))
            let go = fleet.home.appendingPathComponent("go")
            try fleet.startAggregator()
            try fleet.startWorker("worker-1", arguments: ["--config", workerConfig(fleet, "granting", secretsDir: secretsDir, grant: true)])

            // Fails with 7 once told to; its retry policy would run it three times.
            let spec = JobSpec(
                name: "long-run", team: "search", command: ["/bin/sh", "-c", "while [ ! -e \(go.path) ]; do sleep 0.1; done; exit 7"],
                secrets: [SecretReference(env: "TOKEN", secretName: "shared-token")], maxRuntimeSeconds: 600,
                retry: RetryPolicy(maxAttempts: 3, backoffSeconds: 0, retryOnUserError: true))
            let id = try #require(try await fleet.submit([spec]).first)
            let running = try await eventually(timeout: .seconds(120)) { try fleet.records([id])[id]?.state == .running }
            try #require(running, "the job never ran:\n\(fleet.logTail("worker-1"))")

            // The grant is withdrawn: the next owner runs without it.
            _ = await fleet.stop("worker-1")
            try fleet.startWorker("worker-2", arguments: ["--config", workerConfig(fleet, "own-team-only", secretsDir: secretsDir, grant: false)])
            try Data().write(to: go)

            let record = try #require(try await fleet.waitForTerminal([id])[id], "the job never ended:\n\(fleet.logTail("worker-2"))")
            #expect(record.state == .failed && record.exitCode == 7, "\(record.state) \(record.reason ?? "")")
            #expect(record.attempt == 1, "no attempt after the policy refused the secret")
        }
    }
}
