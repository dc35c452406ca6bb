import Foundation
import TrainyardCore
import TrainyardKafka

/// Settings of one worker process.
public struct WorkerConfiguration: Sendable {
    public var kafka: KafkaConfiguration
    public var topics: TopicNames
    /// All workers of a fleet share this consumer group.
    public var groupID: String
    /// Appears in events as `workerId`.
    public var workerID: String
    /// How often a tracked job's backend state is read.
    public var observeInterval: Duration
    /// How often an attempt in flight is re-reported while its state does not change (the
    /// aggregator's "unobserved" alert rule keys on it).
    public var heartbeatInterval: Duration
    /// How often safe offsets are committed.
    public var commitInterval: Duration
    public var sessionTimeoutMilliseconds: Int
    /// Consumer partition assignment strategy.
    public var assignmentStrategy: KafkaAssignmentStrategy
    /// How long a launched attempt may stay without a supervisor before it is launched again.
    public var launchTimeout: Duration
    /// How many claimed requests may wait for a concurrency slot before consumption pauses (it
    /// resumes when half of them got one): a full target does not stop the partitions at its
    /// first waiting job, and memory stays bounded.
    public var slotBacklog: Int
    /// How a rejected request's dead letter is retried while the broker refuses it: the first
    /// wait (doubling up to 10 s), and after how many failures in a row consumption pauses (it
    /// resumes when a record goes through).
    public var rejectionRetry: (initialBackoff: Duration, pauseAfterFailures: Int)
    /// How long the broker may hold a fetch of requests that finds nothing new (librdkafka's
    /// `fetch.wait.max.ms`, unless the Kafka properties set it): the claim delay of a request that
    /// arrives while the worker waits. Kafka answers a held fetch as soon as records arrive, but
    /// the local broker (Tansu 0.6.0) holds it for the whole wait, which at librdkafka's 500 ms
    /// default made submit→RUNNING 150–300 ms. The quota claims consumer uses it too: a claim is
    /// read back within it. Each idle worker sends about 1000 / this fetches a second per consumer.
    public var fetchWaitMilliseconds: Int

    public init(
        kafka: KafkaConfiguration = KafkaConfiguration(), topics: TopicNames = TopicNames(), groupID: String = "trainyard-workers",
        workerID: String = WorkerConfiguration.defaultWorkerID, observeInterval: Duration = .milliseconds(200),
        heartbeatInterval: Duration = .seconds(60), commitInterval: Duration = .seconds(1), sessionTimeoutMilliseconds: Int = 6000,
        assignmentStrategy: KafkaAssignmentStrategy = .range,
        launchTimeout: Duration = .seconds(10), slotBacklog: Int = 64,
        rejectionRetry: (initialBackoff: Duration, pauseAfterFailures: Int) = (.milliseconds(100), 5),
        fetchWaitMilliseconds: Int = 25
    ) {
        self.kafka = kafka
        self.topics = topics
        self.groupID = groupID
        self.workerID = workerID
        self.observeInterval = observeInterval
        self.heartbeatInterval = heartbeatInterval
        self.commitInterval = commitInterval
        self.sessionTimeoutMilliseconds = sessionTimeoutMilliseconds
        self.assignmentStrategy = assignmentStrategy
        self.launchTimeout = launchTimeout
        self.slotBacklog = max(1, slotBacklog)
        self.rejectionRetry = rejectionRetry
        self.fetchWaitMilliseconds = max(1, fetchWaitMilliseconds)
    }

    /// The Kafka settings of the requests consumer: `kafka` with `fetchWaitMilliseconds` as the
    /// fetch wait unless `kafka.properties` names one.
    var consumerKafka: KafkaConfiguration {
        var consumerKafka = kafka
        if consumerKafka.properties["fetch.wait.max.ms"] == nil {
            consumerKafka.properties["fetch.wait.max.ms"] = String(fetchWaitMilliseconds)
        }
        return consumerKafka
    }

    /// `<host>-<pid>`
    public static var defaultWorkerID: String { "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)" }
}
