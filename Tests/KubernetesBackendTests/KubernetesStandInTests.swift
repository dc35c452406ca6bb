import Foundation
import Logging
import Testing
import TrainyardBackends
import TrainyardCore
import TrainyardKubernetes
import TrainyardTesting

@testable import KubernetesBackend

/// The adapter and its client against the kube-apiserver stand-in (ops/test-peers): create and
/// adopt, the watch-fed cache, interrupted and expired watches, RBAC errors, TLS.
@Suite("Kubernetes backend against the kube-apiserver stand-in", .serialized)
struct KubernetesStandInTests {
    let logger = TestEnvironment.logger("kubernetes-tests")

    func spec(_ scenario: String, seconds: Double = 1) -> JobSpec {
        JobSpec(
            name: "standin-\(scenario)", team: "tests", image: "busybox:1.36", command: ["sh", "-c", "true"],
            env: ["KUBE_STANDIN_SCENARIO": scenario, "KUBE_STANDIN_SECONDS": String(seconds)], maxRuntimeSeconds: 60)
    }

    func identity(_ attempt: Int = 1) -> BackendIdentity {
        BackendIdentity(jobID: JobID.generate(), attempt: attempt, team: "tests")
    }

    func backend(_ standIn: KubeAPIServerStandIn, relist: Duration = .seconds(300)) throws -> (KubernetesBackend, KubernetesClient) {
        let connection = try KubernetesConnectionLoader.kubeconfig(path: try standIn.writeKubeconfig(namespace: "ml"))
        let client = try KubernetesClient(connection: connection, logger: logger)
        let configuration = KubernetesBackendConfiguration(
            namespace: connection.defaultNamespace!, relistInterval: relist, watchTimeoutSeconds: 20)
        return (KubernetesBackend(configuration: configuration, client: client, logger: logger), client)
    }

    /// Observes every 200 ms (as the worker does) until the attempt finishes.
    func outcome(_ backend: KubernetesBackend, _ identity: BackendIdentity, timeout: Duration = .seconds(90)) async throws -> BackendOutcome? {
        var result: BackendOutcome?
        _ = try await eventually(timeout: timeout, every: .milliseconds(200)) {
            if case .finished(let outcome) = try await backend.observe(identity) { result = outcome }
            return result != nil
        }
        return result
    }

    @Test("a second backend (another worker) adopts the Job instead of creating a second; observe reads the watch cache, not the API")
    func adoptAndCache() async throws {
        let standIn = try KubeAPIServerStandIn()
        let (first, firstClient) = try backend(standIn)
        let (second, secondClient) = try backend(standIn)
        let watching = Task { try await first.run() }
        defer { watching.cancel() }
        let attempt = identity()
        _ = try await first.ensure(attempt, spec: spec("succeed", seconds: 2))
        let adopted = try await second.ensure(attempt, spec: spec("succeed", seconds: 2))
        #expect(adopted != .absent)
        let outcome = try #require(try await outcome(first, attempt))
        #expect(outcome.state == .succeeded && outcome.exitCode == 0)
        let stats = try await standIn.stats()
        #expect(stats.creates[attempt.resourceName] == 1 && stats.conflicts[attempt.resourceName] == 1)
        // ~10 observations over two seconds: answered from the cache fed by the watch.
        let gets = stats.requests["GET /apis/batch/v1/namespaces/ml/jobs/\(attempt.resourceName)"] ?? 0
        #expect(gets <= 1, "observe must not poll the API server (saw \(gets) GETs)")
        #expect(try await first.existingAttempts(of: attempt.jobID) == [1])
        watching.cancel()
        try? await firstClient.shutdown()  // the backend shuts it down too when its run ends: the first wins
        try? await secondClient.shutdown()
        let validation = try await standIn.validateCreatedJobs()
        #expect(validation.status == 0, "\(validation.output)")
    }

    @Test("dropped watch connections and an expired resourceVersion (410) lose no transition")
    func interruptedWatch() async throws {
        let standIn = try KubeAPIServerStandIn()
        let (backend, client) = try backend(standIn)
        let watching = Task { try await backend.run() }
        defer { watching.cancel() }
        _ = try await eventually(timeout: .seconds(120)) { backend.relistCount >= 2 }
        let attempt = identity()
        // Runs until released: the test, not the stand-in's clock, decides when the pod fails.
        _ = try await backend.ensure(attempt, spec: spec("fail", seconds: 3600))
        let running = try await eventually(timeout: .seconds(120)) {
            if case .running = try await backend.observe(attempt) { return true }
            return false
        }
        #expect(running)
        try await standIn.dropWatches()
        let bothWatching: @Sendable () async throws -> Bool = {
            let open = try await standIn.stats().openWatches
            return open["jobs"] == 1 && open["pods"] == 1
        }
        #expect(try await eventually(timeout: .seconds(120), bothWatching), "both watches reconnect after a cut")
        let relistsBeforeExpiry = backend.relistCount
        try await standIn.expireResourceVersions()
        try await standIn.release(job: attempt.resourceName)
        try await standIn.dropWatches()
        let outcome = try #require(try await outcome(backend, attempt, timeout: .seconds(120)))
        #expect(outcome.state == .failed && outcome.exitCode == 1 && outcome.failureClass == .userError)
        let relisted = try await eventually(timeout: .seconds(120)) { backend.relistCount >= relistsBeforeExpiry + 2 }
        #expect(relisted, "410 made both watches relist (relists: \(relistsBeforeExpiry) before, \(backend.relistCount) after)")
        watching.cancel()
        try? await client.shutdown()  // the backend shuts it down too when its run ends: the first wins
    }

    @Test("a full relist reconciles every relistIntervalSeconds, also while a watch is open")
    func periodicRelist() async throws {
        let standIn = try KubeAPIServerStandIn()
        let (backend, client) = try backend(standIn, relist: .seconds(1))
        let watching = Task { try await backend.run() }
        defer { watching.cancel() }
        // Two informers: 2 initial lists, then one per informer per interval while the watches stay open.
        let relisted = try await eventually(timeout: .seconds(120)) { backend.relistCount >= 8 }
        #expect(relisted, "relists: \(backend.relistCount)")
        // Each watch asks the server to end when the next relist is due, so between a watch's end
        // and the next (a list request apart) none is open: wait for both, never sample once.
        let bothWatching = try await eventually(timeout: .seconds(120)) {
            let open = try await standIn.stats().openWatches
            return open["jobs"] == 1 && open["pods"] == 1
        }
        #expect(bothWatching, "the watches reopen after each relist (relists: \(backend.relistCount))")
        watching.cancel()
        try? await client.shutdown()  // the backend shuts it down too when its run ends: the first wins
    }

    @Test("cancel deletes the Job with background propagation; the attempt ends CANCELLED")
    func cancel() async throws {
        let standIn = try KubeAPIServerStandIn()
        let (backend, client) = try backend(standIn)
        let watching = Task { try await backend.run() }
        defer { watching.cancel() }
        let attempt = identity()
        _ = try await backend.ensure(attempt, spec: spec("run-forever"))
        _ = try await eventually(timeout: .seconds(120)) {
            if case .running = try await backend.observe(attempt) { return true }
            return false
        }
        try await backend.stop(attempt, reason: "user asked")
        let outcome = try #require(try await outcome(backend, attempt))
        #expect(outcome.state == .cancelled && outcome.reason == "user asked")
        #expect(try await client.listJobs(namespace: "ml", labelSelector: "trainyard.io/job-id=\(attempt.jobID.rawValue)").items.isEmpty)
        let podsGone = try await eventually(timeout: .seconds(120)) {
            try await client.listPods(namespace: "ml", labelSelector: "job-name=\(attempt.resourceName)").items.isEmpty
        }
        #expect(podsGone)
        watching.cancel()
        try? await client.shutdown()  // the backend shuts it down too when its run ends: the first wins
    }

    @Test("429 and 5xx are retried with backoff (create and list still succeed); too many failures surface as transient")
    func retries() async throws {
        let standIn = try KubeAPIServerStandIn()
        let (backend, client) = try backend(standIn)
        let attempt = identity()
        try await standIn.failNext([429, 503, 500])
        let observed = try await backend.ensure(attempt, spec: spec("succeed"))
        #expect(observed != .absent)
        let stats = try await standIn.stats()
        #expect(stats.creates[attempt.resourceName] == 1 && stats.requests["POST /apis/batch/v1/namespaces/ml/jobs"] == 4)
        try await standIn.failNext(Array(repeating: 503, count: 5))
        let error = await #expect(throws: BackendError.self) { try await backend.existingAttempts(of: attempt.jobID) }
        #expect(error?.kind == .transient)
        try await client.shutdown()
    }

    @Test("403 names the missing RBAC verb and is a configuration error, not a retry")
    func forbidden() async throws {
        let standIn = try KubeAPIServerStandIn(forbid: ["create:jobs"])
        let (backend, client) = try backend(standIn)
        let error = await #expect(throws: BackendError.self) { try await backend.ensure(identity(), spec: spec("succeed")) }
        #expect(error?.kind == .invalidRequest && error?.message.contains("\"create\"") == true && error?.message.contains("jobs.batch") == true)
        try await client.shutdown()
    }

    @Test("TLS: the CA from the kubeconfig verifies the server; a client certificate authenticates")
    func tls() async throws {
        let pki = try TestPKI()
        let standIn = try KubeAPIServerStandIn(tls: .init(certificate: pki.serverCertificate, key: pki.serverKey, clientCA: pki.caCertificate))
        let withCertificate = KubernetesConnection(
            server: standIn.url,
            credentials: .clientCertificate(certificatePEM: try pki.bytes(pki.clientCertificate), keyPEM: try pki.bytes(pki.clientKey)),
            certificateAuthorityPEM: try pki.bytes(pki.caCertificate))
        let client = try KubernetesClient(connection: withCertificate, logger: logger)
        #expect(try await client.listJobs(namespace: "ml", labelSelector: "a=b").items.isEmpty)
        try await client.shutdown()

        var untrusted = withCertificate
        untrusted.certificateAuthorityPEM = nil
        let failing = try KubernetesClient(connection: untrusted, retry: KubernetesRetryPolicy(maxAttempts: 1), logger: logger)
        await #expect(throws: KubernetesError.self) { try await failing.listJobs(namespace: "ml", labelSelector: "a=b") }
        try await failing.shutdown()

        var anonymous = withCertificate
        anonymous.credentials = .none
        let unauthenticated = try KubernetesClient(connection: anonymous, logger: logger)
        let error = await #expect(throws: KubernetesError.self) { try await unauthenticated.listJobs(namespace: "ml", labelSelector: "a=b") }
        #expect(error?.kind == .configuration && error?.statusCode == 401)
        try await unauthenticated.shutdown()
    }
}
