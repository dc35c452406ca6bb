import Foundation
import Testing
import TrainyardCore
import TrainyardTesting

/// Spend end to end: a worker with a priced local target and a SageMaker target on the emulator
/// runs one job on each; the API and `trainyard spend` report what each attempt cost.
@Suite("Spend on a fleet", .serialized)
struct SpendFleetTests {
    /// The JSON object `path` answers with (empty when it is not one).
    func json(_ api: LogsFleetTests.Deployment, _ path: String, key: String) async throws -> [String: Any] {
        let text = try await api.get(path, key: key).text
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    @Test("local and SageMaker emulator: each attempt's cost is its target's price × billed time, summed per job and per backend")
    func localAndSageMaker() async throws {
        try await Fleet.with(name: "spend-emulator") { scratch in
            let emulator = try SageMakerEmulator(directory: scratch.home)
            defer { emulator.stop() }
            let config = scratch.home.appendingPathComponent("worker.yaml").path
            try """
            backends:
              - {name: laptop, type: local, prices: {cpuHour: 36}}
            \(emulator.workerTarget(name: "sm"))
            routing: {default: laptop, rules: [{kinds: [training], backend: sm}]}
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let environment = emulator.credentialEnvironment.merging(["HOME": scratch.home.path]) { $1 }
            try await LogsFleetTests.withDeployment("spend", aggregatorArguments: ["--worker-config", config], environment: environment) { api in
                try api.fleet.start(
                    "worker-1", ["worker", "--group", api.fleet.workerGroup, "--http-address", "127.0.0.1:0", "--config", config],
                    environment: environment)
                let local = JobSpec(
                    name: "local-sleep", team: "alpha", command: ["/bin/sh", "-c", "sleep 1"], resources: Resources(cpu: 1, memoryMiB: 512),
                    retry: RetryPolicy(maxAttempts: 1))
                let training = JobSpec(
                    name: "trainer", team: "alpha", kind: .training, image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1",
                    command: ["python", "train.py"], resources: Resources(cpu: 2, memoryMiB: 4096), retry: RetryPolicy(maxAttempts: 1),
                    labels: ["emulator.seconds": "2"])
                let ids = try await api.fleet.submit([local, training])
                let records = try await api.fleet.waitForTerminal(ids)
                #expect(ids.allSatisfy { records[$0]?.state == .succeeded }, "\(records)\n\(api.fleet.logTail("worker-1"))")

                // Each job's cost is price × billed seconds: 36 $/h for one CPU locally; ml.m5.large (0.115 $/h) on SageMaker.
                var costs: [String: Double] = [:]
                for (id, hourly, backend) in [(ids[0], 36.0, "local"), (ids[1], 0.115, "sagemaker")] {
                    let appeared = try await eventually(timeout: .seconds(120)) {
                        try await json(api, "/v1/jobs/\(id)", key: api.alpha)["costUSD"] != nil
                    }
                    try #require(appeared, "no cost for \(backend) job \(id):\n\(api.fleet.logTail("aggregator"))")
                    let detail = try await json(api, "/v1/jobs/\(id)", key: api.alpha)
                    let attempt = try #require((detail["attempts"] as? [[String: Any]])?.last)
                    let billed = try #require(attempt["billedSeconds"] as? Double)
                    let cost = try #require(attempt["costUSD"] as? Double)
                    #expect(billed > 0, "\(backend): billed \(billed)")
                    #expect(abs(cost - hourly * billed / 3600) < 0.000_001, "\(backend): \(cost) for \(billed) s")
                    #expect(detail["costUSD"] as? Double == cost)
                    // The emulator reports no BillableTimeInSeconds: the SageMaker time is measured, an estimate.
                    #expect((attempt["costIsEstimate"] as? Bool ?? false) == (backend == "sagemaker"), "\(backend): \(attempt)")
                    costs[backend] = cost
                }

                let report = try await json(api, "/v1/spend?groupBy=backend", key: api.alpha)
                let groups = (report["groups"] as? [[String: Any]] ?? []).reduce(into: [String: Double]()) {
                    $0[$1["key"] as? String ?? ""] = $1["costUSD"] as? Double
                }
                #expect(groups == costs, "\(report)")
                #expect(try await api.get("/v1/spend", key: api.beta).text.contains("\"groups\":[]"))

                let table = try await api.fleet.run(["spend", "--group-by", "backend"])
                #expect(table.status == 0, "\(table.errors)")
                #expect(table.output.contains("local") && table.output.contains("sagemaker") && table.output.contains("TOTAL"), "\(table.output)")
                #expect(try await api.fleet.run(["spend", "--group-by", "owner"]).status == 2)
            }
        }
    }
}
