import SageMakerBackend
import TrainyardBackends

/// The optional `prices` mapping of a target in the worker's configuration file.
///
/// ```yaml
/// - {name: k8s, type: kubernetes, prices: {cpuHour: 0.04, gibHour: 0.005, gpuHour: 2.48}}
/// - {name: laptop, type: local}                    # no prices: its attempts cost 0
/// - name: sagemaker
///   type: sagemaker
///   prices: {instanceTypes: {ml.trn1.2xlarge: 1.34}}   # overrides / additions to the built-in table
/// ```
///
/// Kubernetes, local and simulated targets are priced per requested resource (USD per CPU-hour,
/// per GiB-hour of memory, per GPU-hour; each 0 when absent); SageMaker targets by instance type.
public struct TargetPriceSettings: Decodable, Sendable, Equatable {
    public var cpuHour: Double?
    public var gibHour: Double?
    public var gpuHour: Double?
    /// USD per instance-hour by SageMaker instance type.
    public var instanceTypes: [String: Double]?

    enum CodingKeys: String, CodingKey, CaseIterable { case cpuHour, gibHour, gpuHour, instanceTypes }

    public init(cpuHour: Double? = nil, gibHour: Double? = nil, gpuHour: Double? = nil, instanceTypes: [String: Double]? = nil) {
        self.cpuHour = cpuHour
        self.gibHour = gibHour
        self.gpuHour = gpuHour
        self.instanceTypes = instanceTypes
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = container.allKeys.first(where: { !known.contains($0.stringValue) }) {
            throw DecodingError.dataCorruptedError(
                forKey: unknown, in: container,
                debugDescription: "unknown price \"\(unknown.stringValue)\" (known: cpuHour, gibHour, gpuHour, instanceTypes)")
        }
        func rate(_ key: CodingKeys) throws -> Double? {
            let name = AnyKey(stringValue: key.rawValue)
            guard let value = try container.decodeIfPresent(Double.self, forKey: name) else { return nil }
            guard value.isFinite, value >= 0 else {
                throw DecodingError.dataCorruptedError(forKey: name, in: container, debugDescription: "a price must be a number ≥ 0")
            }
            return value
        }
        cpuHour = try rate(.cpuHour)
        gibHour = try rate(.gibHour)
        gpuHour = try rate(.gpuHour)
        let typesKey = AnyKey(stringValue: CodingKeys.instanceTypes.rawValue)
        instanceTypes = try container.decodeIfPresent([String: Double].self, forKey: typesKey)
        if let bad = instanceTypes?.first(where: { !$0.value.isFinite || $0.value < 0 || !$0.key.hasPrefix("ml.") }) {
            throw DecodingError.dataCorruptedError(
                forKey: typesKey, in: container,
                debugDescription: "\"\(bad.key)\": needs an ml.* instance type and a price ≥ 0 in USD per instance-hour")
        }
    }

    /// Checks that the prices fit the target's type: instance types for SageMaker, resource rates for the others.
    func validate(forType type: String) -> String? {
        if type == "sagemaker" {
            return cpuHour == nil && gibHour == nil && gpuHour == nil
                ? nil : "a sagemaker target is priced by instance type: use prices.instanceTypes, not cpuHour / gibHour / gpuHour"
        }
        return instanceTypes == nil ? nil : "prices.instanceTypes applies to sagemaker targets only (use cpuHour, gibHour, gpuHour)"
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

extension BackendEntry {
    /// What an attempt on this target costs: the SageMaker table (with the target's overrides), or
    /// the target's resource rates (0 when it sets none).
    public var pricing: any AttemptPricing {
        switch settings {
        case .sagemaker: SageMakerPricing(overrides: prices?.instanceTypes ?? [:])
        case .local, .kubernetes, .simulated:
            ResourceRates(cpuHourUSD: prices?.cpuHour ?? 0, gibHourUSD: prices?.gibHour ?? 0, gpuHourUSD: prices?.gpuHour ?? 0)
        }
    }
}
