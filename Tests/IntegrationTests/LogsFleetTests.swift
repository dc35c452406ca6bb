import Foundation
import Testing
import TrainyardAPI
import TrainyardBackends
import TrainyardCore
import TrainyardTesting

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `GET /v1/jobs/{id}/logs` and `trainyard logs` on whole fleets: local processes, the
/// kube-apiserver stand-in (pods/log) and the SageMaker emulator (CloudWatch Logs).
@Suite("Job logs through the API and the CLI", .serialized)
struct LogsFleetTests {
    /// A fleet whose aggregator serves the API with keys for team alpha, team beta and an admin.
    struct Deployment {
        var fleet: Fleet
        var port: Int
        var alpha: String
        var beta: String
        var admin: String

        var url: String { "http://127.0.0.1:\(port)" }

        func get(_ path: String, key: String) async throws -> (status: Int, text: String) {
            var request = URLRequest(url: URL(string: url + path)!)
            request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
        }

        /// Starts `trainyard logs ID --follow` through the API as team alpha, once the store knows
        /// the job (before, the API answers 404); its output goes to `<home>/<name>.log`.
        func follow(_ id: JobID, name: String) async throws {
            let stored = try await eventually(timeout: .seconds(120)) { try fleet.records([id])[id] != nil }
            try #require(stored, "the aggregator never stored \(id):\n\(fleet.logTail("aggregator"))")
            try fleet.start(name, ["logs", id.rawValue, "--follow"], environment: ["TRAINYARD_API_URL": url, "TRAINYARD_API_KEY": alpha])
        }

        /// Waits for the follow to end by itself; its exit status and output.
        func followResult(_ name: String) async throws -> (status: Int32?, output: String) {
            let ended = try await eventually(timeout: .seconds(180)) { !fleet.isRunning(name) }
            try #require(ended, "the follow did not end after the attempt ended:\n\(fleet.logTail(name))\n\(fleet.logTail("aggregator"))")
            return (fleet.exitStatus(name), output(name))
        }

        func output(_ name: String) -> String {
            (try? String(contentsOf: fleet.home.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
        }
    }

    static func withDeployment(
        _ name: String, aggregatorArguments: [String] = [], environment: [String: String] = [:], _ body: (Deployment) async throws -> Void
    ) async throws {
        try await Fleet.with(name: name) { fleet in
            let keyFile = fleet.home.appendingPathComponent("api-keys.yaml").path
            let keys = (APIKeyFile.generateKey(), APIKeyFile.generateKey(), APIKeyFile.generateKey())
            try APIKeyFile.append(key: keys.0, name: "alpha-ci", team: "alpha", to: keyFile)
            try APIKeyFile.append(key: keys.1, name: "beta-ci", team: "beta", to: keyFile)
            try APIKeyFile.append(key: keys.2, name: "admin", team: nil, to: keyFile)
            let port = try Fleet.freePort()
            try fleet.start(
                "aggregator",
                ["aggregator", "--group", fleet.aggregatorGroup, "--http-address", "127.0.0.1:\(port)", "--api-keys", keyFile] + aggregatorArguments,
                environment: environment)
            let ready = try await eventually(timeout: .seconds(120)) { (try? await Fleet.get(port: port, path: "/readyz"))?.0 == 200 }
            try #require(ready, "the aggregator never became ready:\n\(fleet.logTail("aggregator"))")
            try await body(Deployment(fleet: fleet, port: port, alpha: keys.0, beta: keys.1, admin: keys.2))
        }
    }

    @Test(
        "local: follow streams until the attempt ends; stderr, all, tail, attempt; another team gets the unknown job's 404; the CLI reads the store without the API"
    )
    func local() async throws {
        try await Self.withDeployment("logs-local") { api in
            let fleet = api.fleet
            try fleet.startWorker("worker-1")
            let release = fleet.home.appendingPathComponent("release").path
            let script = "echo first; echo warning >&2; while [ ! -e '\(release)' ]; do sleep 0.05; done; echo last"
            let id = try #require(
                try await fleet.submit([
                    JobSpec(name: "printer", team: "alpha", command: ["/bin/sh", "-c", script], retry: RetryPolicy(maxAttempts: 1))
                ])
                .first)
            // Asked as soon as the job is stored, maybe before a worker claimed it: the follow waits for the attempt.
            try await api.follow(id, name: "follow")
            let printed = try await eventually(timeout: .seconds(120)) { api.output("follow").contains("first\n") }
            try #require(printed, "the follow never printed the first line:\n\(api.output("follow"))\n\(fleet.logTail("aggregator"))")
            #expect(fleet.isRunning("follow"), "the follow ended while the attempt still ran")

            let unknown = try await api.get("/v1/jobs/\(JobID.generate())/logs", key: api.beta)
            let otherTeam = try await api.get("/v1/jobs/\(id)/logs", key: api.beta)
            #expect(otherTeam.status == 404 && unknown.status == 404)
            #expect(otherTeam.text.replacingOccurrences(of: id.rawValue, with: "ID").contains("\"code\":\"not_found\""))
            #expect(!otherTeam.text.contains("first"))

            FileManager.default.createFile(atPath: release, contents: nil)
            let (status, output) = try await api.followResult("follow")
            #expect(status == 0 && output == "first\nlast\n", "\(output)")
            let record = try #require(try await fleet.waitForTerminal([id])[id])
            #expect(record.state == .succeeded)

            // The worker that ran the attempt need not be alive, and reading changes nothing.
            await fleet.stop("worker-1")
            let before = try #require(try fleet.records([id])[id])
            #expect(try await api.get("/v1/jobs/\(id)/logs", key: api.alpha) == (200, "first\nlast\n"))
            #expect(try await api.get("/v1/jobs/\(id)/logs?stderr=true", key: api.admin) == (200, "warning\n"))
            #expect(try await api.get("/v1/jobs/\(id)/logs?all=true&attempt=1", key: api.alpha) == (200, "first\nlast\nwarning\n"))
            #expect(try await api.get("/v1/jobs/\(id)/logs?tail=1", key: api.alpha) == (200, "last\n"))
            #expect(try await api.get("/v1/jobs/\(id)/logs?attempt=2", key: api.alpha).status == 404)
            #expect(try await api.get("/v1/jobs/\(id)/logs?tail=-1", key: api.alpha).status == 400)
            #expect(try await api.get("/v1/jobs/\(id)/logs?stderr=true&all=true", key: api.alpha).status == 400)
            #expect(try fleet.records([id])[id] == before)

            // The dashboard's job page: the last lines, and links to the whole log.
            let page = try await api.get("/jobs/\(id)", key: api.alpha)
            #expect(page.status == 200 && page.text.contains("<pre id=\"log\">first\nlast\nwarning\n</pre>"), "\(page.text)")
            #expect(page.text.contains("href=\"/v1/jobs/\(id)/logs?attempt=1&amp;stderr=true\""))

            // `trainyard logs` without an API: the store and this host's run directories.
            let direct = try await fleet.run(["logs", id.rawValue, "--tail", "1"])
            #expect(direct.status == 0 && direct.output == "last\n", "\(direct.errors)")
            let missing = try await fleet.run(["logs", JobID.generate().rawValue])
            #expect(missing.status == 1 && missing.output.isEmpty)
            let throughAPI = try await fleet.run(
                ["logs", id.rawValue, "--stderr"], environment: ["TRAINYARD_API_URL": api.url, "TRAINYARD_API_KEY": api.beta])
            #expect(throughAPI.status == 1 && throughAPI.output.isEmpty, "another team's key reads nothing")
        }
    }

    @Test("Kubernetes: the attempt's pod found by its labels, pods/log followed until the container ends")
    func kubernetes() async throws {
        let standIn = try KubeAPIServerStandIn()
        defer { standIn.stop() }
        let configDirectory = try TestEnvironment.temporaryDirectory("logs-k8s-config")
        defer { try? FileManager.default.removeItem(at: configDirectory) }
        let config = configDirectory.appendingPathComponent("worker.yaml").path
        try """
        backends:
          - {name: k8s, type: kubernetes, kubeconfig: \(try standIn.writeKubeconfig(namespace: "ml")), relistIntervalSeconds: 5, watchTimeoutSeconds: 10}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        try await Self.withDeployment("logs-k8s", aggregatorArguments: ["--worker-config", config]) { api in
            try api.fleet.startWorker("worker-1", arguments: ["--config", config])
            let spec = JobSpec(
                name: "trainer", team: "alpha", kind: .training, image: "registry.example/trainer:1", command: ["python", "train.py"],
                env: [
                    "KUBE_STANDIN_SCENARIO": "succeed", "KUBE_STANDIN_SECONDS": "600", "KUBE_STANDIN_LOG": "first",
                    "KUBE_STANDIN_LOG_AT_EXIT": "last",
                ], retry: RetryPolicy(maxAttempts: 1))
            let id = try #require(try await api.fleet.submit([spec]).first)
            try await api.follow(id, name: "follow")
            let printed = try await eventually(timeout: .seconds(120)) { api.output("follow").contains("first\n") }
            try #require(printed, "the follow never printed the first line:\n\(api.output("follow"))\n\(api.fleet.logTail("aggregator"))")
            #expect(try await api.get("/v1/jobs/\(id)/logs", key: api.beta).status == 404)
            try await standIn.release(job: BackendIdentity(jobID: id, attempt: 1, team: "alpha").resourceName)
            let (status, output) = try await api.followResult("follow")
            #expect(status == 0 && output == "first\nlast\n", "\(output)")
            #expect(try await api.get("/v1/jobs/\(id)/logs?tail=1", key: api.alpha) == (200, "last\n"))
            #expect(try await standIn.stats().requests.keys.contains { $0.hasPrefix("GET /api/v1/namespaces/ml/pods/ty-") && $0.hasSuffix("/log") })
        }
    }

    @Test("SageMaker: CloudWatch Logs of the training job's streams, followed until the job ends")
    func sagemaker() async throws {
        try await Fleet.with(name: "logs-sm-emulator") { scratch in
            let emulator = try SageMakerEmulator(directory: scratch.home)
            defer { emulator.stop() }
            let config = scratch.home.appendingPathComponent("worker.yaml").path
            try """
            backends:
            \(emulator.workerTarget(name: "sm"))
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let environment = emulator.credentialEnvironment.merging(["HOME": scratch.home.path]) { $1 }
            try await Self.withDeployment("logs-sm", aggregatorArguments: ["--worker-config", config], environment: environment) { api in
                try api.fleet.start(
                    "worker-1", ["worker", "--group", api.fleet.workerGroup, "--http-address", "127.0.0.1:0", "--config", config],
                    environment: environment)
                let spec = JobSpec(
                    name: "trainer", team: "alpha", kind: .training, image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1",
                    command: ["python", "train.py"], resources: Resources(cpu: 2, memoryMiB: 4096), retry: RetryPolicy(maxAttempts: 1),
                    labels: ["emulator.seconds": "3", "emulator.log": "first", "emulator.log-at-exit": "last"])
                let other = JobSpec(
                    name: "neighbour", team: "alpha", kind: .training, image: spec.image, command: ["python", "train.py"],
                    resources: spec.resources, retry: RetryPolicy(maxAttempts: 1), labels: ["emulator.seconds": "1", "emulator.log": "not-mine"])
                let ids = try await api.fleet.submit([spec, other])
                try await api.follow(ids[0], name: "follow")
                let (status, output) = try await api.followResult("follow")
                #expect(status == 0 && output == "first\nlast\n", "\(output)\n\(api.fleet.logTail("aggregator"))")
                #expect(try await api.get("/v1/jobs/\(ids[0])/logs?tail=1", key: api.alpha) == (200, "last\n"))
                #expect(try await api.get("/v1/jobs/\(ids[0])/logs", key: api.beta).status == 404)
                _ = try await api.fleet.waitForTerminal(ids)
                #expect(try await api.get("/v1/jobs/\(ids[1])/logs", key: api.admin) == (200, "not-mine\n"))
            }
        }
    }
}
