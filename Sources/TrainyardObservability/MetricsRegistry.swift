import Foundation
import Synchronization

/// A set of Prometheus metric families rendered in the text exposition format (version 0.0.4).
///
/// Small on purpose: counters, gauges and fixed-bucket histograms with labels, plus collectors
/// that refresh gauges just before a scrape (e.g. consumer lag, jobs by state).
public final class MetricsRegistry: Sendable {
    private let families = Mutex<[any MetricFamilyRendering]>([])
    private let collectors = Mutex<[@Sendable () -> Void]>([])

    public init() {}

    public func counter(_ name: String, help: String, labels: [String] = []) -> MetricFamily<Counter> {
        register(MetricFamily(name: name, help: help, type: "counter", labelNames: labels) { Counter() })
    }

    public func gauge(_ name: String, help: String, labels: [String] = []) -> MetricFamily<Gauge> {
        register(MetricFamily(name: name, help: help, type: "gauge", labelNames: labels) { Gauge() })
    }

    public func histogram(_ name: String, help: String, buckets: [Double], labels: [String] = []) -> MetricFamily<Histogram> {
        register(MetricFamily(name: name, help: help, type: "histogram", labelNames: labels) { Histogram(buckets: buckets) })
    }

    /// Runs `collect` before every scrape (to set gauges from their source).
    public func addCollector(_ collect: @escaping @Sendable () -> Void) {
        collectors.withLock { $0.append(collect) }
    }

    /// The exposition text of every family.
    public func render() -> String {
        for collect in collectors.withLock({ $0 }) { collect() }
        return families.withLock { $0 }.map { $0.render() }.joined()
    }

    private func register<Metric>(_ family: MetricFamily<Metric>) -> MetricFamily<Metric> {
        families.withLock { $0.append(family) }
        return family
    }
}

protocol MetricFamilyRendering: Sendable {
    func render() -> String
}

/// One metric name with its labelled children.
public final class MetricFamily<Metric: MetricSample>: MetricFamilyRendering, Sendable {
    public let name: String
    let help: String
    let type: String
    let labelNames: [String]
    private let make: @Sendable () -> Metric
    private let children = Mutex<[[String]: Metric]>([:])

    init(name: String, help: String, type: String, labelNames: [String], make: @escaping @Sendable () -> Metric) {
        self.name = name
        self.help = help
        self.type = type
        self.labelNames = labelNames
        self.make = make
    }

    /// The child for these label values (in the order of the family's label names).
    public func labels(_ values: String...) -> Metric { labels(values) }

    public func labels(_ values: [String]) -> Metric {
        precondition(values.count == labelNames.count, "\(name) takes labels \(labelNames)")
        return children.withLock { children in
            if let child = children[values] { return child }
            let child = make()
            children[values] = child
            return child
        }
    }

    /// Forgets every child (for gauges recomputed from scratch at each scrape).
    public func reset() { children.withLock { $0.removeAll() } }

    func render() -> String {
        var text = "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for (values, child) in children.withLock({ $0 }).sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let labels = zip(labelNames, values).map { "\($0)=\"\(Self.escape($1))\"" }
            text += child.samples(name: name, labels: labels)
        }
        return text
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// Something that renders its own sample lines.
public protocol MetricSample: Sendable {
    func samples(name: String, labels: [String]) -> String
}

func sampleLine(_ name: String, _ labels: [String], _ value: Double) -> String {
    let labelText = labels.isEmpty ? "" : "{\(labels.joined(separator: ","))}"
    let valueText = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    return "\(name)\(labelText) \(valueText)\n"
}

/// A value that only goes up.
public final class Counter: MetricSample {
    private let value = Mutex<Double>(0)

    public func increment(by amount: Double = 1) { value.withLock { $0 += max(0, amount) } }
    public var current: Double { value.withLock { $0 } }

    public func samples(name: String, labels: [String]) -> String { sampleLine(name, labels, current) }
}

/// A value that is set.
public final class Gauge: MetricSample {
    private let value = Mutex<Double>(0)

    public func set(_ newValue: Double) { value.withLock { $0 = newValue } }
    public func add(_ amount: Double) { value.withLock { $0 += amount } }
    public var current: Double { value.withLock { $0 } }

    public func samples(name: String, labels: [String]) -> String { sampleLine(name, labels, current) }
}

/// Observations counted into cumulative buckets.
public final class Histogram: MetricSample {
    private let upperBounds: [Double]
    private let state: Mutex<(counts: [UInt64], sum: Double, count: UInt64)>

    init(buckets: [Double]) {
        upperBounds = buckets.sorted()
        state = Mutex((Array(repeating: 0, count: buckets.count), 0, 0))
    }

    public func observe(_ value: Double) {
        state.withLock { state in
            if let index = upperBounds.firstIndex(where: { value <= $0 }) { state.counts[index] += 1 }
            state.sum += value
            state.count += 1
        }
    }

    public func samples(name: String, labels: [String]) -> String {
        let (counts, sum, count) = state.withLock { ($0.counts, $0.sum, $0.count) }
        var text = ""
        var cumulative: UInt64 = 0
        for (bound, bucketCount) in zip(upperBounds, counts) {
            cumulative += bucketCount
            text += sampleLine(
                "\(name)_bucket", labels + ["le=\"\(bound == bound.rounded() ? String(Int64(bound)) : String(bound))\""], Double(cumulative))
        }
        text += sampleLine("\(name)_bucket", labels + ["le=\"+Inf\""], Double(count))
        text += sampleLine("\(name)_sum", labels, sum)
        text += sampleLine("\(name)_count", labels, Double(count))
        return text
    }
}
