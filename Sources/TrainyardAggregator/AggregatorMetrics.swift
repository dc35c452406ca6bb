import TrainyardObservability
import TrainyardStore

/// The aggregator's Prometheus metrics (names are part of the contract: ops/prometheus/metrics.txt).
struct AggregatorMetrics: Sendable {
    static let durationBuckets: [Double] = [1, 5, 15, 60, 300, 900, 3600, 14400]

    let jobs: MetricFamily<Gauge>
    let eventsApplied: MetricFamily<Counter>
    let messagesRejected: MetricFamily<Counter>
    let consumerLag: MetricFamily<Gauge>
    let queueWait: MetricFamily<Histogram>
    let runTime: MetricFamily<Histogram>
    let cost: MetricFamily<Counter>

    init(registry: MetricsRegistry) {
        jobs = registry.gauge("trainyard_jobs", help: "Jobs in the store by state, team and backend.", labels: ["state", "team", "backend"])
        eventsApplied = registry.counter("trainyard_aggregator_events_applied_total", help: "Messages applied to the store.")
        messagesRejected = registry.counter(
            "trainyard_aggregator_messages_rejected_total", help: "Undecodable or invalid messages seen on the requests and events topics.")
        consumerLag = registry.gauge("trainyard_aggregator_consumer_lag", help: "Messages not yet applied on the aggregator's partitions.")
        queueWait = registry.histogram(
            "trainyard_job_queue_wait_seconds", help: "Submission to first claim, for jobs that finished.", buckets: Self.durationBuckets)
        runTime = registry.histogram(
            "trainyard_job_run_seconds", help: "Run time of the final attempt, for jobs that finished.", buckets: Self.durationBuckets)
        cost = registry.counter(
            "trainyard_job_cost_usd_total", help: "What the attempts reported as their cost, in USD (docs/spend.md).", labels: ["team", "backend"])
    }

    /// Counts a batch once it is committed.
    func record(applied messages: [IngestMessage], transitions: [JobTransition]) {
        eventsApplied.labels().increment(by: Double(messages.count))
        messagesRejected.labels().increment(by: Double(messages.filter { if case .rejected = $0.record { true } else { false } }.count))
        for transition in transitions where transition.becameTerminal {
            if let wait = transition.record.queueWait { queueWait.labels().observe(wait) }
            if let run = transition.record.runTime() { runTime.labels().observe(run) }
        }
    }

    /// Refreshes the jobs-by-state gauge from the store before each scrape.
    func collect(from store: JobStore, lag: @escaping @Sendable () -> Int64, registry: MetricsRegistry) {
        let jobs = jobs
        let consumerLag = consumerLag
        let cost = cost
        registry.addCollector {
            jobs.reset()
            for entry in (try? store.jobCounts()) ?? [] {
                jobs.labels(entry.state.rawValue, entry.team, entry.backend).set(Double(entry.count))
            }
            consumerLag.labels().set(Double(lag()))
            // Read from the store (the sums only grow), so a restarted aggregator reports the same totals.
            if let totals = try? store.costTotals() {
                cost.reset()
                for total in totals { cost.labels(total.team, total.backend).increment(by: total.costUSD) }
            }
        }
    }
}
