import TrainyardCore

/// One SageMaker instance type: what it offers and what it costs.
public struct InstanceType: Sendable, Equatable {
    public var name: String
    public var vcpu: Int
    public var memoryGiB: Double
    public var gpus: Int
    /// On-demand training price, USD per hour in us-east-1 (only the order matters here).
    public var hourlyPriceUSD: Double
}

/// Maps a spec's cpu / memory / gpu to the cheapest `ml.*` instance type that satisfies all three.
///
/// Figures: vCPU, memory and GPU counts from the "Amazon SageMaker AI instance types" tables
/// (`docs.aws.amazon.com/sagemaker/latest/dg/notebooks-available-instance-types.html` and the EC2
/// instance type pages of the same families); prices from `aws.amazon.com/sagemaker/pricing`,
/// "Training", on-demand, US East (N. Virginia). Transcribed by hand (2025 figures); this build
/// machine has no internet access, so they were not re-checked: review before relying on the
/// cost order for a new family. Only the relative order decides the choice.
public struct InstanceTypeTable: Sendable {
    public var types: [InstanceType]

    public init(types: [InstanceType] = InstanceTypeTable.trainingTypes) { self.types = types }

    /// The explicit `resources.instanceType` when set (it must be an `ml.*` name), else the
    /// cheapest listed type with at least the requested vCPUs, memory and GPUs.
    public func choose(for resources: Resources) -> Result<String, SageMakerMappingError> {
        if let explicit = resources.instanceType {
            guard explicit.hasPrefix("ml."), explicit.count > 3 else {
                return .failure(SageMakerMappingError("resources.instanceType \"\(explicit)\" is not a SageMaker instance type (ml.*)"))
            }
            return .success(explicit)
        }
        let memoryGiB = Double(resources.memoryMiB) / 1024
        let fitting = types.filter { Double($0.vcpu) >= resources.cpu && $0.memoryGiB >= memoryGiB && $0.gpus >= resources.gpu }
        guard let cheapest = fitting.min(by: { ($0.hourlyPriceUSD, $0.name) < ($1.hourlyPriceUSD, $1.name) }) else {
            let largest = types.max { ($0.gpus, $0.vcpu, $0.memoryGiB) < ($1.gpus, $1.vcpu, $1.memoryGiB) }!
            return .failure(
                SageMakerMappingError(
                    "no SageMaker instance type offers cpu \(resources.cpu), memory \(resources.memoryMiB) MiB and \(resources.gpu) GPU(s) at once "
                        + "(largest listed: \(largest.name) with \(largest.vcpu) vCPU, \(Int(largest.memoryGiB)) GiB, \(largest.gpus) GPU); "
                        + "lower the request or set resources.instanceType"))
        }
        return .success(cheapest.name)
    }

    /// Instance types available for SageMaker training jobs (a representative subset).
    public static let trainingTypes: [InstanceType] = [
        InstanceType(name: "ml.m5.large", vcpu: 2, memoryGiB: 8, gpus: 0, hourlyPriceUSD: 0.115),
        InstanceType(name: "ml.m5.xlarge", vcpu: 4, memoryGiB: 16, gpus: 0, hourlyPriceUSD: 0.23),
        InstanceType(name: "ml.m5.2xlarge", vcpu: 8, memoryGiB: 32, gpus: 0, hourlyPriceUSD: 0.461),
        InstanceType(name: "ml.m5.4xlarge", vcpu: 16, memoryGiB: 64, gpus: 0, hourlyPriceUSD: 0.922),
        InstanceType(name: "ml.m5.12xlarge", vcpu: 48, memoryGiB: 192, gpus: 0, hourlyPriceUSD: 2.765),
        InstanceType(name: "ml.m5.24xlarge", vcpu: 96, memoryGiB: 384, gpus: 0, hourlyPriceUSD: 5.53),
        InstanceType(name: "ml.c5.xlarge", vcpu: 4, memoryGiB: 8, gpus: 0, hourlyPriceUSD: 0.204),
        InstanceType(name: "ml.c5.2xlarge", vcpu: 8, memoryGiB: 16, gpus: 0, hourlyPriceUSD: 0.408),
        InstanceType(name: "ml.c5.4xlarge", vcpu: 16, memoryGiB: 32, gpus: 0, hourlyPriceUSD: 0.816),
        InstanceType(name: "ml.c5.9xlarge", vcpu: 36, memoryGiB: 72, gpus: 0, hourlyPriceUSD: 1.836),
        InstanceType(name: "ml.c5.18xlarge", vcpu: 72, memoryGiB: 144, gpus: 0, hourlyPriceUSD: 3.672),
        InstanceType(name: "ml.g4dn.xlarge", vcpu: 4, memoryGiB: 16, gpus: 1, hourlyPriceUSD: 0.736),
        InstanceType(name: "ml.g4dn.2xlarge", vcpu: 8, memoryGiB: 32, gpus: 1, hourlyPriceUSD: 0.94),
        InstanceType(name: "ml.g4dn.12xlarge", vcpu: 48, memoryGiB: 192, gpus: 4, hourlyPriceUSD: 4.89),
        InstanceType(name: "ml.g5.xlarge", vcpu: 4, memoryGiB: 16, gpus: 1, hourlyPriceUSD: 1.408),
        InstanceType(name: "ml.g5.12xlarge", vcpu: 48, memoryGiB: 192, gpus: 4, hourlyPriceUSD: 7.09),
        InstanceType(name: "ml.g5.48xlarge", vcpu: 192, memoryGiB: 768, gpus: 8, hourlyPriceUSD: 20.36),
        InstanceType(name: "ml.p3.2xlarge", vcpu: 8, memoryGiB: 61, gpus: 1, hourlyPriceUSD: 3.825),
        InstanceType(name: "ml.p3.8xlarge", vcpu: 32, memoryGiB: 244, gpus: 4, hourlyPriceUSD: 14.688),
        InstanceType(name: "ml.p3.16xlarge", vcpu: 64, memoryGiB: 488, gpus: 8, hourlyPriceUSD: 28.152),
        InstanceType(name: "ml.p4d.24xlarge", vcpu: 96, memoryGiB: 1152, gpus: 8, hourlyPriceUSD: 37.688),
    ]
}

/// A spec that cannot be expressed as a SageMaker job; the message says which field and why.
public struct SageMakerMappingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
