import Foundation
import Glibc
import Testing
import TrainyardCore
import TrainyardTesting

/// Each process runs its services in one ServiceGroup: SIGTERM stops them in order and the
/// process exits 0; a service that fails ends the process with its error.
@Suite("Service lifecycle of the trainyard processes", .serialized)
struct ServiceLifecycleTests {
    @Test("SIGTERM: the worker hands its running job over and exits 0, the next worker finishes it; the aggregator exits 0")
    func gracefulShutdown() async throws {
        try await Fleet.with(name: "lifecycle") { fleet in
            try fleet.startAggregator()
            try fleet.startWorker("worker-1")
            let marker = fleet.home.appendingPathComponent("release-me")
            // Runs until the test creates the marker file: the test, not a clock, decides when it ends.
            let ids = try await fleet.submit([
                JobSpec(
                    name: "outlives-its-worker", team: "lifecycle",
                    command: ["/bin/sh", "-c", "while [ ! -e '\(marker.path)' ]; do sleep 0.1; done"], maxRuntimeSeconds: 600)
            ])
            let running = try await eventually(timeout: .seconds(120)) { (try? fleet.records(ids))?[ids[0]]?.state == .running }
            try #require(running, "never ran:\n\(fleet.logTail("worker-1"))")

            // The job is released only once the worker has handed it over. (The job's supervisor
            // inherits the worker's descriptors, among them the pipe Foundation watches for the
            // worker's exit, so the stop completes only once the job has ended.)
            async let workerStatus = fleet.stop("worker-1", timeout: .seconds(90))
            let stopped = try await eventually(timeout: .seconds(120)) { fleet.logTail("worker-1", lines: 200).contains("worker stopped") }
            _ = FileManager.default.createFile(atPath: marker.path, contents: Data())
            let status = await workerStatus
            #expect(stopped && status == 0, "worker exit status \(String(describing: status)):\n\(fleet.logTail("worker-1"))")
            #expect(fleet.logTail("worker-1", lines: 200).contains("handing over 1 in-flight jobs"))

            try fleet.startWorker("worker-2")
            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(180))
            #expect(records[ids[0]]?.state == .succeeded, "\(String(describing: records[ids[0]]))\n\(fleet.logTail("worker-2"))")

            let aggregatorStatus = await fleet.stop("aggregator", timeout: .seconds(90))
            #expect(aggregatorStatus == 0, "aggregator exit status \(String(describing: aggregatorStatus)):\n\(fleet.logTail("aggregator"))")
        }
    }

    @Test("an HTTP address already in use ends the aggregator with a non-zero status that names the error")
    func failingServiceEndsTheProcess() async throws {
        try await Fleet.with(name: "lifecycle-port") { fleet in
            // Hold a listening socket on a free port so the aggregator's HTTP service cannot bind it.
            let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(holder) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, length) == 0 && listen(holder, 1) == 0 && getsockname(holder, $0, &length) == 0 }
            }
            try #require(bound)
            let port = Int(UInt16(bigEndian: address.sin_port))

            try fleet.startAggregator(httpPort: port)
            let exited = try await eventually(timeout: .seconds(120)) { fleet.exitStatus("aggregator") != nil }
            try #require(exited, "the aggregator kept running with its HTTP port taken:\n\(fleet.logTail("aggregator"))")
            #expect(fleet.exitStatus("aggregator") != 0)
            let log = fleet.logTail("aggregator", lines: 200).lowercased()
            #expect(log.contains("address already in use") || log.contains("eaddrinuse"), "\(log)")
        }
    }
}
