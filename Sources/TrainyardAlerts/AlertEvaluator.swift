import Foundation
import TrainyardCore
import TrainyardStore

/// Turns the store's jobs into the set of alert conditions that hold now. Pure: the same jobs
/// and clock give the same alerts, so the rules are unit-tested without a broker.
///
/// Conditions about many jobs at once (stuck, overdue, unobserved, queue wait) are grouped per
/// team and backend, so an outage that strands 500 jobs pages once, not 500 times.
public struct AlertEvaluator: Sendable {
    public var configuration: AlertConfiguration

    public init(configuration: AlertConfiguration) {
        self.configuration = configuration
    }

    /// How far back finished jobs matter to any rule.
    public var lookback: TimeInterval {
        max(configuration.jobFailed.resolveAfterSeconds, configuration.failureRate.windowSeconds)
    }

    /// The conditions that hold at `now`, ordered by id. `firedAt` is `now`; the ledger keeps the
    /// first time of an alert that already fires.
    ///   `teamSpend`: each team's spend in USD over the spend rule's window up to `now`.
    public func evaluate(_ jobs: [AlertSubject], teamSpend: [String: Double] = [:], now: Date) -> [AlertMessage] {
        var alerts: [AlertMessage] = []
        if configuration.teamSpend.enabled { alerts += spendingTeams(teamSpend, now: now) }
        if configuration.jobFailed.enabled { alerts += failedJobs(jobs, now: now) }
        if configuration.stuck.enabled { alerts += stuckJobs(jobs, now: now) }
        if configuration.queueWait.enabled { alerts += waitingJobs(jobs, now: now) }
        if configuration.failureRate.enabled { alerts += failureRates(jobs, now: now) }
        return alerts.sorted { $0.alertID < $1.alertID }
    }

    private func failedJobs(_ jobs: [AlertSubject], now: Date) -> [AlertMessage] {
        jobs.compactMap { subject in
            let job = subject.record
            guard job.state == .failed || job.state == .timedOut, let finishedAt = job.finishedAt,
                now.timeIntervalSince(finishedAt) < configuration.jobFailed.resolveAfterSeconds
            else { return nil }
            let reason = job.reason.map { ": \($0)" } ?? ""
            return AlertMessage(
                alertID: "\(AlertRule.jobFailed.alertIDPrefix):\(job.jobID)", rule: .jobFailed, severity: .warning, team: job.team,
                backend: job.backend, jobID: job.jobID,
                summary:
                    "job \(job.name ?? job.jobID.rawValue) (\(job.jobID)) of team \(job.team) ended \(job.state.rawValue) after \(job.attempt) attempt\(job.attempt == 1 ? "" : "s")\(reason)",
                value: Double(job.attempt), firedAt: now)
        }
    }

    private func stuckJobs(_ jobs: [AlertSubject], now: Date) -> [AlertMessage] {
        let rules = configuration.stuck
        var stuck: [JobGroup: [(AlertSubject, TimeInterval)]] = [:]
        var overdue: [JobGroup: [(AlertSubject, TimeInterval)]] = [:]
        var unobserved: [JobGroup: [(AlertSubject, TimeInterval)]] = [:]
        for subject in jobs {
            let job = subject.record
            let group = JobGroup(team: job.team, backend: job.backend ?? job.requestedBackend ?? "none")
            switch job.state {
            case .claimed, .provisioning, .pending:
                let since = now.timeIntervalSince(job.updatedAt)
                if since > rules.provisioningSeconds { stuck[group, default: []].append((subject, since)) }
            case .running:
                if let startedAt = job.startedAt, let maxRuntime = subject.maxRuntimeSeconds {
                    let over = now.timeIntervalSince(startedAt) - Double(maxRuntime)
                    if over > rules.runningGraceSeconds { overdue[group, default: []].append((subject, over)) }
                }
            default:
                continue
            }
            let silent = now.timeIntervalSince(subject.lastObservedAt ?? job.updatedAt)
            if silent > rules.unobservedSeconds { unobserved[group, default: []].append((subject, silent)) }
        }
        return grouped(stuck, rule: .jobStuck, severity: .critical, threshold: rules.provisioningSeconds, now: now) {
            "\($0) job\($0 == 1 ? "" : "s") claimed but not running for over \(duration(rules.provisioningSeconds))"
        }
            + grouped(overdue, rule: .jobOverdue, severity: .critical, threshold: rules.runningGraceSeconds, now: now) {
                "\($0) job\($0 == 1 ? "" : "s") running past max runtime + \(duration(rules.runningGraceSeconds)) (the backend did not stop \($0 == 1 ? "it" : "them"))"
            }
            + grouped(unobserved, rule: .jobUnobserved, severity: .critical, threshold: rules.unobservedSeconds, now: now) {
                "\($0) job\($0 == 1 ? "" : "s") in flight with no worker observation for over \(duration(rules.unobservedSeconds)) (are workers running?)"
            }
    }

    private func waitingJobs(_ jobs: [AlertSubject], now: Date) -> [AlertMessage] {
        var waiting: [JobGroup: [(AlertSubject, TimeInterval)]] = [:]
        for subject in jobs where subject.record.state == .queued {
            guard let submittedAt = subject.record.submittedAt else { continue }
            let wait = now.timeIntervalSince(submittedAt)
            if wait > configuration.queueWait.thresholdSeconds {
                waiting[JobGroup(team: subject.record.team, backend: nil), default: []].append((subject, wait))
            }
        }
        let alerts = grouped(waiting, rule: .queueWait, severity: .warning, threshold: configuration.queueWait.thresholdSeconds, now: now) {
            "\($0) job\($0 == 1 ? "" : "s") waiting to be claimed for over \(duration(configuration.queueWait.thresholdSeconds))"
        }
        return alerts.map { alert in
            guard let members = waiting[JobGroup(team: alert.team, backend: nil)] else { return alert }
            return naming(quotaHolds: members.map(\.0.record), in: alert)
        }
    }

    /// The team's quota, when it holds waiting jobs: the most recent hold reason (a held job is
    /// QUEUED with the worker's reason, e.g. `team quota: 4 of 4 running`, docs/fair-share.md),
    /// and how many of the waiting jobs it holds.
    private func naming(quotaHolds waiting: [JobRecord], in alert: AlertMessage) -> AlertMessage {
        let held = waiting.filter { $0.reason?.hasPrefix("team quota") == true }
        guard let latest = held.max(by: { $0.updatedAt < $1.updatedAt })?.reason else { return alert }
        var alert = alert
        alert.summary += " (held by the \(latest); \(held.count) of \(waiting.count) waiting)"
        return alert
    }

    private func failureRates(_ jobs: [AlertSubject], now: Date) -> [AlertMessage] {
        let rule = configuration.failureRate
        var counts: [JobGroup: (finished: Int, failed: Int)] = [:]
        for subject in jobs {
            let job = subject.record
            // Cancelled and rejected jobs say nothing about the platform's health.
            guard [.succeeded, .failed, .timedOut].contains(job.state), let finishedAt = job.finishedAt,
                now.timeIntervalSince(finishedAt) < rule.windowSeconds
            else { continue }
            let group = JobGroup(team: job.team, backend: job.backend ?? "none")
            counts[group, default: (0, 0)].finished += 1
            if job.state != .succeeded { counts[group, default: (0, 0)].failed += 1 }
        }
        return counts.compactMap { group, count in
            let rate = Double(count.failed) / Double(count.finished)
            guard count.finished >= rule.minimumFinished, rate >= rule.threshold else { return nil }
            return AlertMessage(
                alertID: "\(AlertRule.failureRate.alertIDPrefix):\(group.team):\(group.backend ?? "none")", rule: .failureRate, severity: .critical,
                team: group.team,
                backend: group.backend,
                summary:
                    "\(count.failed) of \(count.finished) jobs of team \(group.team) on \(group.backend ?? "none") failed in the last \(duration(rule.windowSeconds)) (\(Int((rate * 100).rounded())) %, threshold \(Int((rule.threshold * 100).rounded())) %)",
                value: rate, threshold: rule.threshold, firedAt: now)
        }
    }

    /// Each team's spend over the spend rule's window up to `now`, read from `store` (nothing is
    /// read when the rule is off or no team has a threshold).
    public func teamSpend(in store: JobStore, now: Date) throws -> [String: Double] {
        let rule = configuration.teamSpend
        guard rule.enabled, rule.hasThresholds else { return [:] }
        let report = try store.spend(SpendQuery(since: now.addingTimeInterval(-rule.windowSeconds), until: .distantFuture, groupBy: .team))
        return Dictionary(uniqueKeysWithValues: report.groups.compactMap { group in group.key.map { ($0, group.costUSD) } })
    }

    private func spendingTeams(_ spend: [String: Double], now: Date) -> [AlertMessage] {
        let rule = configuration.teamSpend
        return spend.compactMap { team, usd in
            guard let threshold = rule.threshold(for: team), usd > threshold else { return nil }
            return AlertMessage(
                alertID: "\(AlertRule.teamSpend.alertIDPrefix):\(team)", rule: .teamSpend, severity: .warning, team: team,
                summary: "team \(team) spent \(dollars(usd)) in the last \(duration(rule.windowSeconds)) (threshold \(dollars(threshold)))",
                value: usd, threshold: threshold, firedAt: now)
        }
    }

    /// One alert per group: the count, the worst value, and the first few job ids.
    private func grouped(
        _ groups: [JobGroup: [(AlertSubject, TimeInterval)]], rule: AlertRule, severity: AlertSeverity, threshold: Double, now: Date,
        describe: (Int) -> String
    ) -> [AlertMessage] {
        groups.map { group, members in
            let ids = members.map(\.0.record.jobID).sorted()
            let shown = ids.prefix(5).map(\.rawValue).joined(separator: ", ") + (ids.count > 5 ? ", …" : "")
            let scope = group.backend.map { "team \(group.team) on \($0)" } ?? "team \(group.team)"
            return AlertMessage(
                alertID: "\(rule.alertIDPrefix):\(group.team)" + (group.backend.map { ":\($0)" } ?? ""), rule: rule, severity: severity,
                team: group.team, backend: group.backend, summary: "\(scope): \(describe(ids.count)): \(shown)",
                value: members.map(\.1).max(), threshold: threshold, firedAt: now)
        }
    }
}

/// The scope of a grouped alert.
private struct JobGroup: Hashable {
    var team: String
    var backend: String?
}

extension AlertRule {
    /// The first part of the rule's alert ids.
    var alertIDPrefix: String {
        switch self {
        case .jobFailed: "job-failed"
        case .jobStuck: "job-stuck"
        case .jobOverdue: "job-overdue"
        case .jobUnobserved: "job-unobserved"
        case .queueWait: "queue-wait"
        case .failureRate: "failure-rate"
        case .teamSpend: "team-spend"
        }
    }
}

/// `$12.34`
func dollars(_ usd: Double) -> String { "$" + usd.formatted(.number.precision(.fractionLength(2))) }

/// `90 s`, `15 min`, `2 h`: thresholds as people write them.
func duration(_ seconds: Double) -> String {
    if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600)) h" }
    if seconds >= 60, seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60)) min" }
    return "\(seconds.formatted(.number.precision(.fractionLength(0...1)))) s"
}
