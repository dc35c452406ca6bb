import Foundation
import Logging

/// A topic to create.
public struct KafkaNewTopic: Sendable, Equatable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    /// Topic configs, e.g. `cleanup.policy=compact`, `retention.ms`.
    public var configs: [String: String]

    public init(name: String, partitions: Int, replicationFactor: Int = 1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// Cluster administration: topic creation and deletion.
public final class KafkaAdmin: Sendable {
    private let client: RDKafkaClient

    public init(configuration: KafkaConfiguration, logger: Logger) throws(KafkaError) {
        let properties = configuration.librdkafkaProperties.merging(configuration.properties) { _, override in override }
        client = try RDKafkaClient(kind: .producer, properties: properties, context: RDKafkaClientContext(logger: logger))
    }

    /// Creates the topics that do not exist yet. Returns the names it created; a topic that
    /// already exists is not an error (its partition count is left as it is).
    @discardableResult
    public func createTopics(_ topics: [KafkaNewTopic], timeout: Duration = .seconds(30)) async throws -> [String] {
        let client = client
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        return try await RDKafkaBlocking.run { () throws(KafkaError) -> [String] in
            try client.createTopics(topics, timeoutMilliseconds: milliseconds)
        }
    }

    /// Deletes topics; missing ones are ignored.
    public func deleteTopics(_ names: [String], timeout: Duration = .seconds(30)) async throws {
        let client = client
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        try await RDKafkaBlocking.run { () throws(KafkaError) in try client.deleteTopics(names, timeoutMilliseconds: milliseconds) }
    }

    /// Topic → partition count, as the cluster reports it.
    public func partitionCounts() async throws -> [String: Int] {
        let client = client
        return try await RDKafkaBlocking.run { () throws(KafkaError) in try client.partitionCounts() }
    }
}
