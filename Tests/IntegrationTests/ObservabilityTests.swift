import Foundation
import Testing
import TrainyardCore
import TrainyardTesting

/// /metrics, /healthz and /readyz of real worker and aggregator processes.
@Suite("Observability endpoints", .serialized)
struct ObservabilityTests {
    /// The metric names the deployment files rely on (ops/prometheus/metrics.txt), split by process.
    func documentedMetrics() throws -> [String] {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../ops/prometheus/metrics.txt")
        return try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }.map { String($0.split(separator: " ")[0]) }
    }

    @Test("every documented metric is exported, health and readiness answer, and job counts appear")
    func endpoints() async throws {
        try await Fleet.with(name: "metrics") { fleet in
            let aggregatorPort = try Fleet.freePort()
            let workerPort = try Fleet.freePort()
            try fleet.startAggregator(httpPort: aggregatorPort)
            try fleet.startWorker("worker-1", httpPort: workerPort)
            let ids = try await fleet.submit([
                JobSpec(name: "ok", team: "observability", command: ["true"]),
                JobSpec(name: "bad", team: "observability", command: ["/bin/sh", "-c", "exit 2"], retry: RetryPolicy(maxAttempts: 1)),
            ])
            _ = try await fleet.waitForTerminal(ids, timeout: .seconds(240))

            for port in [aggregatorPort, workerPort] {
                #expect(try await Fleet.get(port: port, path: "/healthz").0 == 200)
                let ready = try await eventually(timeout: .seconds(120)) { try await Fleet.get(port: port, path: "/readyz").0 == 200 }
                #expect(ready)
            }
            let worker = try await Fleet.get(port: workerPort, path: "/metrics").1
            let aggregator = try await Fleet.get(port: aggregatorPort, path: "/metrics").1
            for name in try documentedMetrics() {
                #expect(worker.contains("# TYPE \(name) ") || aggregator.contains("# TYPE \(name) "), "\(name) is not exported")
            }
            #expect(worker.contains("trainyard_worker_attempts_finished_total{backend=\"local\",state=\"SUCCEEDED\"} 1"))
            #expect(worker.contains("trainyard_worker_attempts_finished_total{backend=\"local\",state=\"FAILED\"} 1"))
            #expect(aggregator.contains("trainyard_jobs{state=\"SUCCEEDED\",team=\"observability\",backend=\"local\"} 1"))
            #expect(aggregator.contains("trainyard_job_run_seconds_count 2"))
        }
    }
}
