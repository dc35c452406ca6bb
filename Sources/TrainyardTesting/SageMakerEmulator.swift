import Foundation
import Glibc

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The SageMaker test peer (`ops/test-peers/sagemaker_emulator.py`: moto with realistic job
/// lifecycles, StopTrainingJob, ResourceInUse, EventBridge → SQS events and checked
/// signatures), started for one test and stopped by `stop()`.
public final class SageMakerEmulator: Sendable {
    /// What the peer printed when ready.
    public struct Info: Decodable, Sendable {
        public var endpoint: String
        public var region: String
        public var accessKeyId: String
        public var secretAccessKey: String
        public var queueUrl: String
    }

    public let info: Info
    /// JSON lines: every CreateTrainingJob outcome and every injected throttle.
    public let auditFile: URL
    private let process: Process
    private let stdin: Pipe

    /// `throttleFirst`: SageMaker calls answered ThrottlingException first; `capacity`: jobs in
    /// progress before CreateTrainingJob answers ResourceLimitExceeded.
    public init(directory: URL, throttleFirst: Int = 0, capacity: Int? = nil) throws {
        auditFile = directory.appendingPathComponent("sagemaker-audit.jsonl")
        stdin = Pipe()
        let log = directory.appendingPathComponent("sagemaker-emulator.log")
        let started = try TestPython.startPeer(
            "sagemaker_emulator.py",
            arguments: ["--audit", auditFile.path, "--throttle-first", String(throttleFirst)] + (capacity.map { ["--capacity", String($0)] } ?? []),
            log: log, stdin: stdin)
        process = started.process
        guard let info = try? JSONDecoder().decode(Info.self, from: Data(started.firstLine.utf8)) else {
            kill(process.processIdentifier, SIGKILL)
            throw TestEnvironment.Missing(description: "the SageMaker emulator did not start; see \(log.path)")
        }
        self.info = info
    }

    /// Environment for a worker that should reach the emulator with the emulator's credentials.
    /// A `backends:` entry of the worker configuration for a SageMaker target named `name` that
    /// talks to this emulator, indented as a list item at the top level; `settings` are further
    /// `key: value` lines of the target.
    public func workerTarget(name: String, settings: [String] = []) -> String {
        ([
            "  - name: \(name)", "    type: sagemaker", "    roleArn: arn:aws:iam::123456789012:role/trainyard-test",
            "    region: \(info.region)", "    endpoint: \(info.endpoint)", "    eventQueueUrl: \(info.queueUrl)", "    eventWaitSeconds: 1",
            "    defaultOutputPath: s3://trainyard-test/out",
        ] + settings.map { "    " + $0 }).joined(separator: "\n")
    }

    public var credentialEnvironment: [String: String] {
        ["AWS_ACCESS_KEY_ID": info.accessKeyId, "AWS_SECRET_ACCESS_KEY": info.secretAccessKey, "AWS_REGION": info.region]
    }

    /// Ends the run time of the job `name` created with `emulator.outcome` = held: it completes
    /// once training, so the test rather than the emulator's clock decides how long it runs.
    public func release(job name: String) async throws {
        guard let url = URL(string: info.endpoint + "/_emulator/release") else { return }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = try JSONEncoder().encode(["name": name])
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (_, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
            throw TestEnvironment.Missing(description: "the SageMaker emulator refused to release \(name)")
        }
    }

    /// The audit records (`action`, `name`, `result`).
    public func audit() -> [[String: String]] {
        guard let text = try? String(contentsOf: auditFile, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
    }

    public func stop() {
        try? stdin.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(50_000) }
        TestPython.stop(process)
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}
