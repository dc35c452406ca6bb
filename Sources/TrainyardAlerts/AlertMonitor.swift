import Foundation
import Logging
import TrainyardCore
import TrainyardKafka
import TrainyardObservability
import TrainyardStore

/// Evaluates the alert rules against the store at an interval and delivers what changed: to the
/// alerts topic (key = alert id), then to the webhook when one is configured.
///
/// The firing set and the undelivered notifications live in the store (`updateAlerts` writes
/// both in one transaction), so an alert pages once per episode across restarts, and a
/// notification is deleted only after delivery (at-least-once, like the status topic).
public final class AlertMonitor: Sendable {
    private let store: JobStore
    private let evaluator: AlertEvaluator
    private let producer: KafkaProducer
    private let topic: String
    private let webhook: WebhookNotifier?
    private let isReady: @Sendable () async -> Bool
    private let logger: Logger
    private let firing: MetricFamily<Gauge>
    private let notifications: MetricFamily<Counter>

    /// - Parameter isReady: evaluation waits for it (a store still catching up would raise
    ///   false alarms).
    public init(
        configuration: AlertConfiguration, store: JobStore, producer: KafkaProducer, topic: String, webhook: WebhookNotifier?,
        isReady: @escaping @Sendable () async -> Bool, metrics registry: MetricsRegistry, logger: Logger
    ) {
        self.store = store
        evaluator = AlertEvaluator(configuration: configuration)
        self.producer = producer
        self.topic = topic
        self.webhook = webhook
        self.isReady = isReady
        self.logger = logger
        firing = registry.gauge("trainyard_alerts_firing", help: "Alerts firing now, by rule.", labels: ["rule"])
        notifications = registry.counter(
            "trainyard_alert_notifications_total", help: "Alert notifications delivered, by channel (topic, webhook) and outcome.",
            labels: ["channel", "outcome"])
        // Exported from the start (as 0), so rates and absent() work before the first alert.
        for rule in AlertRule.allCases { firing.labels(rule.rawValue).set(0) }
        for channel in ["topic", "webhook"] {
            for outcome in ["delivered", "failed"] { notifications.labels(channel, outcome).increment(by: 0) }
        }
    }

    /// Evaluates and delivers every `evaluationIntervalSeconds` until cancelled.
    public func run() async {
        let interval = Duration.milliseconds(Int64(evaluator.configuration.evaluationIntervalSeconds * 1000))
        while !Task.isCancelled {
            if await isReady() {
                do {
                    try evaluate(now: Date())
                } catch {
                    logger.error("alert evaluation failed: \(error)")
                }
            }
            await deliverPending()
            try? await Task.sleep(for: interval)
        }
    }

    /// Brings the store's firing set up to date with the rules at `now`.
    public func evaluate(now: Date) throws {
        let subjects = try store.alertSubjects(finishedSince: now.addingTimeInterval(-evaluator.lookback))
        let active = evaluator.evaluate(subjects, teamSpend: try evaluator.teamSpend(in: store, now: now), now: now)
        let changes = try store.updateAlerts(active: active, now: now)
        for change in changes {
            logger.notice(
                "alert \(change.status.rawValue): \(change.summary)", metadata: ["alert": "\(change.alertID)", "team": "\(change.team)"])
        }
        // After the update the store's firing set is exactly `active`: no second read needed.
        let byRule = Dictionary(grouping: active, by: \.rule)
        for rule in AlertRule.allCases { firing.labels(rule.rawValue).set(Double(byRule[rule]?.count ?? 0)) }
    }

    /// Sends the outbox in order: each notification to the topic, then to the webhook, then
    /// deletes it. Stops at the first topic failure (the rest is sent on the next round).
    public func deliverPending() async {
        do {
            for entry in try store.pendingAlertNotifications(limit: 100) {
                try producer.enqueue(KafkaProducerMessage(topic: topic, key: entry.alert.alertID, value: entry.payload))
                try await producer.flush()
                notifications.labels("topic", "delivered").increment()
                if let webhook {
                    let delivered = await webhook.send(entry.alert)
                    notifications.labels("webhook", delivered ? "delivered" : "failed").increment()
                }
                try store.deleteAlertNotification(entry.sequence)
            }
        } catch {
            notifications.labels("topic", "failed").increment()
            logger.warning("alert notifications not delivered yet: \(error)")
        }
    }
}
