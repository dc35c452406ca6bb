import Foundation
import Testing
import TrainyardTesting

/// `trainyard worker --check-config`: the shipped example files load through the real loader,
/// and broken files are refused with the file and field named.
@Suite("Worker configuration files")
struct WorkerConfigFileTests {
    func check(_ path: String) async throws -> TestEnvironment.Completed {
        try await TestEnvironment.run(try TestEnvironment.executable(), ["worker", "--check-config", "--config", path])
    }

    @Test("the examples in ops/examples are valid and route as the README says")
    func examples() async throws {
        let hybrid = try await check(TestEnvironment.repositoryFile("ops/examples/worker-hybrid.yaml").path)
        #expect(hybrid.status == 0, "\(hybrid.errors)")
        #expect(hybrid.output.contains("target sagemaker: sagemaker, concurrency 20"))
        #expect(hybrid.output.contains("target k8s-search-gpu: kubernetes, concurrency 8"))
        #expect(hybrid.output.contains("route kinds processing, training -> sagemaker"))
        #expect(hybrid.output.contains("route otherwise -> k8s"))
        for name in ["worker-laptop.yaml", "worker-sagemaker.yaml", "worker-simulated.yaml"] {
            let result = try await check(TestEnvironment.repositoryFile("ops/examples/\(name)").path)
            #expect(result.status == 0, "\(name): \(result.errors)")
        }
    }

    @Test("a rule naming a missing target, an unknown type and a missing required key are refused")
    func brokenFiles() async throws {
        let directory = try TestEnvironment.temporaryDirectory("worker-config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let cases: [(String, String)] = [
            (
                "backends: [{name: a, type: local}]\nrouting: {default: a, rules: [{kinds: [training], backend: sm}]}\n",
                "routing names backend target \"sm\""
            ),
            ("backends: [{name: a, type: nomad}]\n", "unknown backend type \"nomad\""),
            ("backends: [{name: sm, type: sagemaker}]\n", "backends[0].roleArn: is required"),
            ("backends: [{name: a, type: local, concurrency: 0}]\n", "backends[0].concurrency"),
        ]
        for (index, (text, message)) in cases.enumerated() {
            let path = directory.appendingPathComponent("broken-\(index).yaml").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let result = try await check(path)
            #expect(result.status == 2 && result.errors.contains(path) && result.errors.contains(message), "\(text): \(result.errors)")
        }
    }
}
