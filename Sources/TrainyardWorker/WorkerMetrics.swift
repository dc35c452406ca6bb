import TrainyardKafka
import TrainyardObservability

/// The worker's Prometheus metrics (names are part of the contract: ops/prometheus/metrics.txt).
public struct WorkerMetrics: Sendable {
    let inFlight: MetricFamily<Gauge>
    let attemptsStarted: MetricFamily<Counter>
    let attemptsFinished: MetricFamily<Counter>
    let requestsRejected: MetricFamily<Counter>
    let partitionsAssigned: MetricFamily<Gauge>
    let consumerLag: MetricFamily<Gauge>
    let paused: MetricFamily<Gauge>

    public init(registry: MetricsRegistry) {
        inFlight = registry.gauge("trainyard_worker_jobs_in_flight", help: "Jobs this worker is running or tracking.", labels: ["backend"])
        attemptsStarted = registry.counter("trainyard_worker_attempts_started_total", help: "Attempts this worker claimed.", labels: ["backend"])
        attemptsFinished = registry.counter(
            "trainyard_worker_attempts_finished_total", help: "Attempts this worker saw end, by terminal state.", labels: ["backend", "state"])
        requestsRejected = registry.counter(
            "trainyard_worker_requests_rejected_total", help: "Requests sent to the dead-letter topic, by error code.", labels: ["code"])
        partitionsAssigned = registry.gauge("trainyard_worker_partitions_assigned", help: "Requests partitions assigned to this worker.")
        consumerLag = registry.gauge("trainyard_worker_consumer_lag", help: "Requests not yet read on this worker's partitions.")
        paused = registry.gauge(
            "trainyard_worker_paused",
            help: "1 while the concurrency limit, a backend's capacity errors or unrecorded rejections keep consumption paused.")
    }

    /// Refreshes the consumer gauges before each scrape.
    func collect(from consumer: KafkaConsumer, registry: MetricsRegistry) {
        let lag = consumerLag
        let partitions = partitionsAssigned
        registry.addCollector {
            lag.labels().set(Double(consumer.lag()))
            partitions.labels().set(Double(consumer.assignment.count))
        }
    }
}
