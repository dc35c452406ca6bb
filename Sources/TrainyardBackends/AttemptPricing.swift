import Foundation
import TrainyardCore

/// What one attempt of a job costs per hour on a target.
public struct HourlyPrice: Sendable, Equatable {
    public var usd: Double
    /// True when the price is a guess (an instance type the table does not list and no override priced).
    public var isEstimate: Bool

    public init(usd: Double, isEstimate: Bool = false) {
        self.usd = usd
        self.isEstimate = isEstimate
    }
}

/// Prices the attempts a target runs.
public protocol AttemptPricing: Sendable {
    /// The hourly price of one attempt of `spec` on this target.
    func hourlyPrice(for spec: JobSpec) -> HourlyPrice
    /// True when the backend reports the billed time itself (SageMaker's `BillableTimeInSeconds`):
    /// a cost measured from running to end instead is then an estimate.
    var backendReportsBilledTime: Bool { get }
}

/// Per-resource rates of a target (Kubernetes, local, simulated): the job's requests times the
/// rates. All rates default to 0, so a target without prices costs nothing.
public struct ResourceRates: AttemptPricing, Equatable {
    public var cpuHourUSD: Double
    /// Per GiB of requested memory per hour.
    public var gibHourUSD: Double
    public var gpuHourUSD: Double

    public init(cpuHourUSD: Double = 0, gibHourUSD: Double = 0, gpuHourUSD: Double = 0) {
        self.cpuHourUSD = cpuHourUSD
        self.gibHourUSD = gibHourUSD
        self.gpuHourUSD = gpuHourUSD
    }

    /// A target without prices.
    public static let free = ResourceRates()

    public func hourlyPrice(for spec: JobSpec) -> HourlyPrice {
        let resources = spec.resources
        return HourlyPrice(
            usd: resources.cpu * cpuHourUSD + Double(resources.memoryMiB) / 1024 * gibHourUSD + Double(resources.gpu) * gpuHourUSD)
    }

    public var backendReportsBilledTime: Bool { false }
}

/// The cost of one finished attempt, as its terminal event carries it.
public struct AttemptCharge: Sendable, Equatable {
    public var costUSD: Double
    public var billedSeconds: Double
    public var isEstimate: Bool

    /// Price × billed time. The billed time is the backend's own figure when it reports one, else
    /// running → end (0 when the attempt never ran). Failed and cancelled attempts are charged too.
    public init(outcome: BackendOutcome, price: HourlyPrice, backendReportsBilledTime: Bool) {
        let measured = outcome.startedAt.map { max(0, outcome.finishedAt.timeIntervalSince($0)) } ?? 0
        billedSeconds = ((outcome.billedSeconds ?? measured) * 1000).rounded() / 1000
        costUSD = price.usd * billedSeconds / 3600
        isEstimate = price.isEstimate || (backendReportsBilledTime && outcome.billedSeconds == nil && outcome.startedAt != nil)
    }
}
