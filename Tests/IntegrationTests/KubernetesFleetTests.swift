import Foundation
import Testing
import TrainyardCore
import TrainyardStore
import TrainyardTesting

/// Whole fleets (real broker, worker and aggregator processes) routing some jobs to Kubernetes —
/// the kube-apiserver stand-in (ops/test-peers) — and the rest to local processes.
@Suite("Kubernetes backend in a hybrid fleet (kube-apiserver stand-in)", .serialized)
struct KubernetesFleetTests {
    /// Kubernetes for `kind: training` and `runs-on: kubernetes`, local processes for the rest.
    func writeConfig(_ fleet: Fleet, standIn: KubeAPIServerStandIn) throws -> String {
        let kubeconfig = try standIn.writeKubeconfig(namespace: "ml")
        let path = fleet.home.appendingPathComponent("worker.yaml").path
        try """
        backends:
          - {name: k8s, type: kubernetes, kubeconfig: \(kubeconfig), startFailureGraceSeconds: 3, relistIntervalSeconds: 5, watchTimeoutSeconds: 10}
          - {name: laptop, type: local}
        routing:
          default: laptop
          rules:
            - {kinds: [training], backend: k8s}
            - {labels: {runs-on: kubernetes}, backend: k8s}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func kube(_ name: String, _ scenario: String, seconds: Double = 1, maxRuntime: Int = 120, extra: [String: String] = [:]) -> JobSpec {
        JobSpec(
            name: name, team: "hybrid", kind: .training, image: "registry.example/\(name):1", command: ["python", "main.py"],
            env: ["KUBE_STANDIN_SCENARIO": scenario, "KUBE_STANDIN_SECONDS": String(seconds)].merging(extra) { $1 },
            secrets: [SecretReference(env: "API_TOKEN", secretName: "hybrid-api", key: "token")], maxRuntimeSeconds: maxRuntime,
            retry: RetryPolicy(maxAttempts: 1))
    }

    @Test("every outcome reaches the right state and failure class, local jobs still run locally, and interrupted or expired watches lose nothing")
    func outcomes() async throws {
        let standIn = try KubeAPIServerStandIn()
        try await Fleet.with(name: "k8s-outcomes") { fleet in
            try fleet.startAggregator()
            try fleet.startWorker("worker-1", arguments: ["--config", try writeConfig(fleet, standIn: standIn)])
            // These pods run until the test releases them, so the watches are cut while they run
            // however slowly this machine gets them there.
            let held = ["succeeds", "exits-3", "sidecar-dies", "oom", "evicted", "waits-for-gpus"]
            let specs = [
                kube("succeeds", "succeed", seconds: 3600, maxRuntime: 7200),
                kube("exits-3", "fail", seconds: 3600, maxRuntime: 7200, extra: ["KUBE_STANDIN_EXIT_CODE": "3"]),
                kube("sidecar-dies", "sidecar-fails", seconds: 3600, maxRuntime: 7200),
                kube("oom", "oom", seconds: 3600, maxRuntime: 7200),
                kube("bad-image", "image-pull"),
                kube("evicted", "evicted", seconds: 3600, maxRuntime: 7200),
                kube("too-slow", "run-forever", maxRuntime: 3),
                kube("waits-for-gpus", "unschedulable", seconds: 3600, maxRuntime: 7200, extra: ["KUBE_STANDIN_UNSCHEDULABLE_SECONDS": "3"]),
                JobSpec(name: "on-the-laptop", team: "hybrid", command: ["/bin/sh", "-c", "exit 0"], retry: RetryPolicy(maxAttempts: 1)),
            ]
            let ids = try await fleet.submit(specs)
            let byName = Dictionary(uniqueKeysWithValues: zip(specs.map(\.name), ids))

            // Interrupt the watches while the jobs run: cut connections, then expire every resourceVersion.
            let running = try await eventually(timeout: .seconds(120)) { try fleet.records(ids).values.contains { $0.state == .running } }
            try #require(running, "nothing ran:\n\(fleet.logTail("worker-1"))")
            try await standIn.dropWatches()
            // The expiry hits reconnected watches (a watch that is not back yet relists anyway).
            _ = try await eventually(timeout: .seconds(120)) {
                let open = try await standIn.stats().openWatches
                return open["jobs", default: 0] >= 1 && open["pods", default: 0] >= 1
            }
            try await standIn.expireResourceVersions()
            try await standIn.dropWatches()
            for name in held { try await standIn.release(job: "ty-\(byName[name]!.rawValue)-a1") }

            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(240))
            func record(_ name: String) -> JobRecord? { records[byName[name]!] }
            #expect(record("succeeds")?.state == .succeeded && record("succeeds")?.backend == "kubernetes")
            #expect(record("exits-3")?.state == .failed && record("exits-3")?.exitCode == 3 && record("exits-3")?.failureClass == .userError)
            #expect(
                record("sidecar-dies")?.state == .succeeded && record("sidecar-dies")?.exitCode == 0, "\(String(describing: record("sidecar-dies")))")
            #expect(record("sidecar-dies")?.reason?.contains("log-shipper") == true)
            #expect(record("oom")?.state == .failed && record("oom")?.exitCode == 137 && record("oom")?.reason?.hasPrefix("OOMKilled") == true)
            #expect(record("bad-image")?.state == .failed && record("bad-image")?.failureClass == .infrastructure)
            #expect(record("evicted")?.state == .failed && record("evicted")?.failureClass == .infrastructure)
            #expect(record("too-slow")?.state == .timedOut)
            #expect(record("waits-for-gpus")?.state == .succeeded)
            #expect(record("on-the-laptop")?.state == .succeeded && record("on-the-laptop")?.backend == "local")

            // The unschedulable pod was reported as PENDING with the scheduler's reason.
            let store = try JobStore(readingAt: fleet.databasePath)
            let pending = try store.events(of: byName["waits-for-gpus"]!).map(\.event).filter { $0.state == .pending }
            #expect(pending.contains { $0.reason?.contains("Unschedulable") == true }, "\(pending.map(\.reason))")
            // Every transition of a watched job arrived although the watches were cut and expired.
            let succeeded = try store.events(of: byName["succeeds"]!).map(\.event.state)
            #expect(succeeded.contains(.running) && succeeded.contains(.succeeded))

            // One Job per attempt, each valid against the Kubernetes OpenAPI schema (strict).
            let stats = try await standIn.stats()
            #expect(stats.creates.count == 8 && stats.creates.values.allSatisfy { $0 == 1 }, "\(stats.creates)")
            let validation = try await standIn.validateCreatedJobs()
            #expect(validation.status == 0, "\(validation.output)")
        }
        standIn.stop()
    }

    @Test("a worker killed while its create request is in flight: the successor adopts the Job, no second Job is created")
    func killDuringProvisioning() async throws {
        let standIn = try KubeAPIServerStandIn()
        try await Fleet.with(name: "k8s-provisioning-kill") { fleet in
            let config = try writeConfig(fleet, standIn: standIn)
            try fleet.startAggregator()
            try fleet.startWorker("worker-1", arguments: ["--config", config])
            let ids = try await fleet.submit([kube("slow-create", "succeed", seconds: 2, extra: ["KUBE_STANDIN_CREATE_DELAY": "5"])])
            let name = "ty-\(ids[0].rawValue)-a1"
            // The stand-in stored the Job and holds the answer back: the worker dies waiting for it.
            let stored = try await eventually(timeout: .seconds(120)) { try await standIn.stats().creates[name] == 1 }
            try #require(stored, "the Job was never created:\n\(fleet.logTail("worker-1"))")
            fleet.crash("worker-1")
            try fleet.startWorker("worker-2", arguments: ["--config", config])

            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(240))
            #expect(records[ids[0]]?.state == .succeeded && records[ids[0]]?.attempt == 1, "\(fleet.logTail("worker-2"))")
            let stats = try await standIn.stats()
            #expect(stats.creates[name] == 1, "exactly one Job was created (creates \(stats.creates), 409s \(stats.conflicts))")
        }
        standIn.stop()
    }
}
