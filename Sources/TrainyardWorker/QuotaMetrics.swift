import Synchronization
import TrainyardObservability
import TrainyardQuota

/// Team usage against quota as this worker's fold of the claims topic sees it (every worker
/// folds the same log, so any worker's figures are the fleet's, up to how far it has read).
final class QuotaMetrics: Sendable {
    let teamRunning: MetricFamily<Gauge>
    let teamQuota: MetricFamily<Gauge>
    /// Granted, unreleased jobs per team, updated by the fold.
    let running = Mutex<[String: Int]>([:])

    /// Registered by every worker (the families exist with no series when quotas are off).
    init(registry: MetricsRegistry) {
        teamRunning = registry.gauge(
            "trainyard_team_running", help: "Jobs of the team holding a quota grant, fleet-wide (claims topic).", labels: ["team"])
        teamQuota = registry.gauge(
            "trainyard_team_quota", help: "The team's quota by resource (attempts, gpus, cpus); teams named in the quotas file and teams with usage.",
            labels: ["team", "resource"])
    }

    /// Sets the gauges from the fold's counts and the quotas in force before each scrape.
    func collect(from source: any QuotaPolicySource, registry: MetricsRegistry) {
        registry.addCollector { [self] in
            let counts = running.withLock { $0 }
            let policy = source.policy
            for (team, count) in counts { teamRunning.labels(team).set(Double(count)) }
            for team in Set(policy.teams.keys).union(counts.keys) {
                let limit = policy.quota(team: team).limit
                if let value = limit.maxAttempts { teamQuota.labels(team, "attempts").set(Double(value)) }
                if let value = limit.maxGPUs { teamQuota.labels(team, "gpus").set(Double(value)) }
                if let value = limit.maxCPUs { teamQuota.labels(team, "cpus").set(value) }
            }
        }
    }
}
