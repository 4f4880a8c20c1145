use trialflow_core::DType;
use trialflow_pipeline::{generate_recording, GenerateOptions, PipelineError};

use crate::args::{DTypeArg, GenerateArgs};

pub fn generate(args: &GenerateArgs) -> Result<(), PipelineError> {
    let opts = GenerateOptions {
        trials: args.trials,
        samples: args.samples,
        channels: args.channels,
        samplerate: args.samplerate,
        seed: args.seed,
        dtype: match args.dtype {
            DTypeArg::F32 => DType::Float32,
            DTypeArg::F64 => DType::Float64,
        },
        unequal: args.unequal,
        overwrite: args.overwrite,
    };
    let path = generate_recording(&args.out, &opts)?;
    crate::out!("{}", path.display());
    Ok(())
}
