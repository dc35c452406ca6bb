import Foundation
import Logging
import TrainyardKafka

/// What integration tests need from their surroundings, started by `./ops/test`.
public enum TestEnvironment {
    /// A required piece of the test environment is missing. Tests fail with it rather than skip.
    public struct Missing: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) { self.description = description }
    }

    /// The local broker started by `./ops/test` (`TRAINYARD_TEST_BROKERS`).
    public static func brokers() throws -> String {
        guard let value = ProcessInfo.processInfo.environment["TRAINYARD_TEST_BROKERS"], !value.isEmpty else {
            throw Missing(description: "TRAINYARD_TEST_BROKERS is not set: run the tests with ./ops/test, which starts a local broker")
        }
        return value
    }

    /// The folder holding the built `trainyard` executable (`TRAINYARD_TEST_BINARY_DIR`).
    public static func executable(_ name: String = "trainyard") throws -> URL {
        guard let directory = ProcessInfo.processInfo.environment["TRAINYARD_TEST_BINARY_DIR"], !directory.isEmpty else {
            throw Missing(description: "TRAINYARD_TEST_BINARY_DIR is not set: run the tests with ./ops/test")
        }
        let url = URL(fileURLWithPath: directory).appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw Missing(description: "\(url.path) is not built: run the tests with ./ops/test")
        }
        return url
    }

    /// The Python interpreter with the test peers' packages (`TRAINYARD_TEST_PYTHON`, set by `./ops/test`).
    public static func python() throws -> URL {
        guard let path = ProcessInfo.processInfo.environment["TRAINYARD_TEST_PYTHON"], !path.isEmpty else {
            throw Missing(description: "TRAINYARD_TEST_PYTHON is not set: run the tests with ./ops/test, which builds the test-peer venv")
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(description: "TRAINYARD_TEST_PYTHON=\(path) is not executable")
        }
        return URL(fileURLWithPath: path)
    }

    /// A file of this repository (test peers under ops/test-peers, examples…).
    public static func repositoryFile(_ relativePath: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(relativePath)
    }

    /// Runs blocking work (reading a pipe to its end, waiting for a process) on a thread of its
    /// own. Swift's cooperative pool has one thread per core, two on a CI machine: a test that
    /// blocks one of them stalls every other test of the process, whose deadlines then pass
    /// while they cannot run.
    public static func offThePool<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result(catching: work)) }.start()
        }
    }

    /// A finished child process: its exit status and what it printed.
    public struct Completed: Sendable, CustomStringConvertible {
        public var status: Int32
        public var output: String
        public var errors: String
        public var description: String { "exit \(status)\nstdout:\n\(output)\nstderr:\n\(errors)" }
    }

    /// Runs `executable` to completion, reading its stdout and stderr as it goes.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> Completed {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Read before waiting (a full pipe would block the child), each pipe on its own thread.
        async let out = offThePool { try output.fileHandleForReading.readToEnd() }
        async let err = offThePool { try errors.fileHandleForReading.readToEnd() }
        let (outData, errData) = try await (out, err)
        try await offThePool { process.waitUntilExit() }
        return Completed(
            status: process.terminationStatus, output: String(decoding: outData ?? Data(), as: UTF8.self),
            errors: String(decoding: errData ?? Data(), as: UTF8.self))
    }

    /// A logger for tests: warnings and worse, to stderr.
    public static func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = ProcessInfo.processInfo.environment["TRAINYARD_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }

    /// A name no other test run uses, e.g. for topics and consumer groups.
    public static func uniqueName(_ base: String) -> String {
        "test-\(base)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// A fresh directory under the system's temporary directory.
    public static func temporaryDirectory(_ base: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueName(base))
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Creates topics for one test and returns the Kafka configuration to reach them (on
    /// `brokers`, by default the shared test broker).
    public static func kafka(topics: [String], partitions: Int = 4, brokers: String? = nil) async throws -> KafkaConfiguration {
        let configuration = KafkaConfiguration(bootstrapServers: try brokers ?? Self.brokers(), clientID: "trainyard-tests")
        let admin = try KafkaAdmin(configuration: configuration, logger: logger("test-admin"))
        try await admin.createTopics(topics.map { KafkaNewTopic(name: $0, partitions: partitions) })
        return configuration
    }
}

/// Polls `condition` until it holds or `timeout` passes.
public func eventually(timeout: Duration = .seconds(60), every interval: Duration = .milliseconds(100), _ condition: () async throws -> Bool)
    async throws -> Bool
{
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}
