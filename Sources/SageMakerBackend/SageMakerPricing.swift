import TrainyardBackends
import TrainyardCore

/// Prices SageMaker attempts: the instance type the job runs on (the same choice `ensure` makes)
/// at its on-demand hourly price, times the instance count (always 1 here).
///
/// Prices come from `InstanceTypeTable` (see `priceSource`) unless the target overrides them; an
/// instance type neither lists is priced 0 and its cost flagged as an estimate.
public struct SageMakerPricing: AttemptPricing {
    /// Where the table's prices come from and when they were taken (shown by `docs/spend.md`).
    public static let priceSource =
        "AWS SageMaker on-demand training prices, US East (N. Virginia), as published in 2025 (transcribed by hand)"

    public var table: InstanceTypeTable
    /// USD per hour by instance type name; wins over the table.
    public var overrides: [String: Double]
    /// Instances per job (`InstanceCount` in the requests this backend sends).
    public var instanceCount: Int

    public init(table: InstanceTypeTable = InstanceTypeTable(), overrides: [String: Double] = [:], instanceCount: Int = 1) {
        self.table = table
        self.overrides = overrides
        self.instanceCount = instanceCount
    }

    public func hourlyPrice(for spec: JobSpec) -> HourlyPrice {
        guard case .success(let name) = table.choose(for: spec.resources) else { return HourlyPrice(usd: 0, isEstimate: true) }
        guard let perInstance = overrides[name] ?? table.types.first(where: { $0.name == name })?.hourlyPriceUSD else {
            return HourlyPrice(usd: 0, isEstimate: true)
        }
        return HourlyPrice(usd: perInstance * Double(instanceCount))
    }

    public var backendReportsBilledTime: Bool { true }
}
