import Foundation
import Testing
import TrainyardAPI
import TrainyardCore
import TrainyardStore
import TrainyardTesting

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Secrets scoped to teams (issue #13, item 1): team × secret × backend through a real fleet, and
/// the API's check at submit.
@Suite("Secret policy across teams and backends", .serialized)
struct SecretPolicyTests {
    static let teams = ["search", "ads"]
    /// Each team's own, one granted to `search` only, and the fleet's own broker password.
    static let secrets = ["search-token", "ads-token", "shared-hf-token", "trainyard-kafka-password"]
    static let backends = ["local", "kubernetes", "sagemaker", "simulated"]

    static func allowed(team: String, secret: String) -> Bool {
        secret == "\(team)-token" || (team == "search" && secret == "shared-hf-token")
    }

    /// Every target in one worker, chosen by the `runs-on` label; `search` is granted one shared secret.
    static func workerConfig(_ fleet: Fleet, standIn: KubeAPIServerStandIn, emulator: SageMakerEmulator, secretsDir: URL) throws -> String {
        let path = fleet.home.appendingPathComponent("worker.yaml").path
        try """
        secrets:
          grants:
            - {teams: [search], names: [shared-hf-token]}
        backends:
          - {name: laptop, type: local, secretsDir: \(secretsDir.path)}
          - {name: k8s, type: kubernetes, kubeconfig: \(try standIn.writeKubeconfig(namespace: "ml")), relistIntervalSeconds: 5, watchTimeoutSeconds: 10}
        \(emulator.workerTarget(name: "sm"))
          - {name: sim, type: simulated, seconds: 0.5}
        routing:
          default: laptop
          rules:
            - {labels: {runs-on: kubernetes}, backend: k8s}
            - {labels: {runs-on: sagemaker}, backend: sm}
            - {labels: {runs-on: simulated}, backend: sim}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A job of `team` on `backend` that references `secret`; on the local backend it succeeds
    /// only when it could read the secret's value.
    static func spec(team: String, secret: String, backend: String) -> JobSpec {
        JobSpec(
            name: "\(team)-reads-\(secret)", team: team, kind: .training, image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1",
            command: ["/bin/sh", "-c", "[ -n \"$TOKEN\" ]"], env: ["KUBE_STANDIN_SCENARIO": "succeed", "KUBE_STANDIN_SECONDS": "1"],
            secrets: [SecretReference(env: "TOKEN", secretName: secret)], resources: Resources(cpu: 1, memoryMiB: 1024),
            maxRuntimeSeconds: 300, retry: RetryPolicy(maxAttempts: 1),
            labels: ["runs-on": backend, "emulator.outcome": "completed", "emulator.seconds": "1"])
    }

    @Test("no job reads a secret outside its team's policy on any backend: refused before anything is created, allowed ones run")
    func matrix() async throws {
        let standIn = try KubeAPIServerStandIn()
        defer { standIn.stop() }
        try await Fleet.with(name: "secret-matrix") { fleet in
            let emulator = try SageMakerEmulator(directory: fleet.home)
            defer { emulator.stop() }
            // Every secret exists, so on the local backend only the policy keeps a job from reading one.
            let secretsDir = fleet.home.appendingPathComponent("secrets")
            try FileManager.default.createDirectory(at: secretsDir, withIntermediateDirectories: true)
            for secret in Self.secrets { try Data("value-of-\(secret)\n".utf8).write(to: secretsDir.appendingPathComponent(secret)) }
            let config = try Self.workerConfig(fleet, standIn: standIn, emulator: emulator, secretsDir: secretsDir)
            try fleet.startAggregator()
            try fleet.start(
                "worker-1", ["worker", "--group", fleet.workerGroup, "--http-address", "127.0.0.1:0", "--config", config],
                environment: emulator.credentialEnvironment.merging(["HOME": fleet.home.path]) { $1 })

            let cases = Self.backends.flatMap { backend in Self.teams.flatMap { team in Self.secrets.map { (team, $0, backend) } } }
            let ids = try await fleet.submit(cases.map { Self.spec(team: $0.0, secret: $0.1, backend: $0.2) })
            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(180))
            try #require(records.count == ids.count, "not every job ended:\n\(fleet.logTail("worker-1"))")

            let standInCreates = try await standIn.stats().creates
            let sageMakerCreates = Set(emulator.audit().filter { $0["result"] == "created" }.compactMap { $0["name"] })
            for ((team, secret, backend), id) in zip(cases, ids) {
                let record = try #require(records[id])
                let resource = "ty-\(id.rawValue)-a1"
                let cell = "\(team) × \(secret) × \(backend)"
                if Self.allowed(team: team, secret: secret) {
                    #expect(record.state == .succeeded && record.backend == backend, "\(cell): \(record.state) \(record.reason ?? "")")
                } else {
                    #expect(record.state == .rejected && record.failureClass == .invalidRequest, "\(cell): \(record.state)")
                    #expect(record.reason?.contains("\"\(secret)\"") == true, "\(cell): \(record.reason ?? "no reason")")
                    #expect(record.reason?.contains("value-of-") == false)
                    #expect(record.backend == nil && record.attempt == 0, "\(cell): nothing was provisioned")
                    let runDirectory = fleet.stateDirectory.appendingPathComponent("runs/\(resource)")
                    #expect(!FileManager.default.fileExists(atPath: runDirectory.path), "\(cell): no local run")
                    #expect(standInCreates[resource] == nil, "\(cell): no Kubernetes Job")
                    #expect(!sageMakerCreates.contains(resource), "\(cell): no SageMaker job")
                }
            }
            #expect(!fleet.logTail("worker-1", lines: 100_000).contains("value-of-"), "no secret value in the worker's log")
        }
    }

    @Test("the API refuses at submit a secret no target allows the team, naming it; the team's own is accepted")
    func apiAtSubmit() async throws {
        try await Fleet.with(name: "secret-api") { fleet in
            let keyFile = fleet.home.appendingPathComponent("api-keys.yaml").path
            let (admin, ads) = (APIKeyFile.generateKey(), APIKeyFile.generateKey())
            try APIKeyFile.append(key: admin, name: "admin", team: nil, to: keyFile)
            try APIKeyFile.append(key: ads, name: "ads-ci", team: "ads", to: keyFile)
            let config = fleet.home.appendingPathComponent("worker.yaml").path
            try """
            secrets: {grants: [{teams: [search], names: [shared-hf-token]}]}
            backends: [{name: laptop, type: local}]
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let port = try Fleet.freePort()
            try fleet.start(
                "aggregator",
                [
                    "aggregator", "--group", fleet.aggregatorGroup, "--http-address", "127.0.0.1:\(port)", "--api-keys", keyFile, "--worker-config",
                    config,
                ])
            let ready = try await eventually(timeout: .seconds(120)) { (try? await Fleet.get(port: port, path: "/readyz"))?.0 == 200 }
            try #require(ready, "the aggregator never became ready:\n\(fleet.logTail("aggregator"))")

            func submit(team: String, secret: String, key: String) async throws -> (Int, String) {
                var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/jobs")!)
                request.httpMethod = "POST"
                request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                request.httpBody = Data(
                    #"{"apiVersion":"trainyard/v1","name":"n","team":"\#(team)","command":["true"],"secrets":[{"env":"TOKEN","secretName":"\#(secret)"}]}"#
                        .utf8)
                let (data, response) = try await URLSession.shared.data(for: request)
                return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
            }
            for (team, secret, key) in [("ads", "search-token", ads), ("ads", "shared-hf-token", ads), ("search", "trainyard-kafka", admin)] {
                let (status, body) = try await submit(team: team, secret: secret, key: key)
                #expect(status == 400 && body.contains("secrets[0].secretName") && body.contains(secret), "\(team) \(secret): \(status) \(body)")
            }
            #expect(try await submit(team: "ads", secret: "ads-token", key: ads).0 == 202)
            #expect(try await submit(team: "search", secret: "shared-hf-token", key: admin).0 == 202)
        }
    }
}
