import ArgumentParser
import Foundation
import Logging
import Synchronization
import TrainyardCore
import TrainyardKafka
import TrainyardObservability

/// Every setting the executable reads, in one place: a flag, else the environment variable,
/// else the default. The README's configuration table lists the same keys.
struct CommonOptions: ParsableArguments {
    @Option(help: "Kafka bootstrap servers (env TRAINYARD_BROKERS, default 127.0.0.1:19092).")
    var brokers: String?

    @Option(help: "Topic name prefix (env TRAINYARD_TOPIC_PREFIX, default trainyard).")
    var topicPrefix: String?

    @Option(help: "SQLite store path (env TRAINYARD_DB, default <home>/trainyard.db).")
    var db: String?

    @Option(help: "Local backend state directory (env TRAINYARD_STATE_DIR, default <home>/state).")
    var stateDir: String?

    @Option(
        name: .customLong("kafka-property"),
        help: "Extra librdkafka property KEY=VALUE, repeatable (env TRAINYARD_KAFKA_PROPERTIES, comma-separated), e.g. security.protocol=SASL_SSL.")
    var kafkaProperties: [String] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env TRAINYARD_LOG_LEVEL, default info).")
    var logLevel: String?

    @Option(help: "Log format: text or json (one object per line) (env TRAINYARD_LOG_FORMAT, default text).")
    var logFormat: String?

    private var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Base folder for defaults (env TRAINYARD_HOME, default ~/.trainyard).
    var home: String { environment["TRAINYARD_HOME"] ?? (NSHomeDirectory() + "/.trainyard") }

    var resolvedBrokers: String { brokers ?? environment["TRAINYARD_BROKERS"] ?? "127.0.0.1:19092" }
    var topics: TopicNames { TopicNames(prefix: topicPrefix ?? environment["TRAINYARD_TOPIC_PREFIX"] ?? "trainyard") }
    var databasePath: String { db ?? environment["TRAINYARD_DB"] ?? "\(home)/trainyard.db" }
    var stateDirectory: URL { URL(fileURLWithPath: stateDir ?? environment["TRAINYARD_STATE_DIR"] ?? "\(home)/state") }

    func kafka(clientID: String) throws -> KafkaConfiguration {
        let fromEnvironment = (environment["TRAINYARD_KAFKA_PROPERTIES"] ?? "").split(separator: ",").map(String.init)
        var properties: [String: String] = [:]
        for entry in fromEnvironment + kafkaProperties {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw ValidationError("--kafka-property takes KEY=VALUE, got \"\(entry)\"")
            }
            properties[String(entry[..<equals]).trimmingCharacters(in: .whitespaces)] = String(entry[entry.index(after: equals)...])
        }
        return KafkaConfiguration(bootstrapServers: resolvedBrokers, clientID: clientID, properties: properties)
    }

    func logger(_ label: String) -> Logger {
        let level = (logLevel ?? environment["TRAINYARD_LOG_LEVEL"]).flatMap(Logger.Level.init(rawValue:)) ?? .info
        let json = (logFormat ?? environment["TRAINYARD_LOG_FORMAT"]) == "json"
        LogFormat.bootstrapOnce(json: json)
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }

    /// Creates the folder that will hold `path`.
    func prepareDirectory(for path: String) throws {
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
    }
}

/// Installs the process's log handler once (text or JSON lines, both on stderr).
enum LogFormat {
    private static let installed = Mutex(false)

    static func bootstrapOnce(json: Bool) {
        installed.withLock { done in
            guard !done else { return }
            done = true
            LoggingSystem.bootstrap { label -> any LogHandler in
                json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            }
        }
    }
}
