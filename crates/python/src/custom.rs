//! Routines written in Python, as steps of `compute` and `run` beside built-in ones.
//!
//! A registry constructor is a plain function, so it cannot capture the Python object; the
//! Python layer lends each object to a process-wide table for the duration of one call and
//! writes `{routine: python, object: <id>}` in its step. The step then goes through the same
//! registry and checks as every other step. The routine calls Python with the GIL held, so
//! it runs in parallel only as far as the Python code releases the GIL itself; results are
//! identical in every mode because each task's output is that task's call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use numpy::{PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use serde_json::{Map, Value};
use trialflow_core::routine::{BuildError, ParamDoc, RoutineDoc, RoutineEntry};
use trialflow_core::{
    ComputationalRoutine, DataKind, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, Scratch, TrialInput,
};

static LENT: Mutex<Option<HashMap<u64, Py<PyAny>>>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Lends a routine object (trialflow's adapter around the user's class or function) to the
/// registry until [`release_routine`]; returns the id its step names.
#[pyfunction]
pub fn lend_routine(object: Py<PyAny>) -> u64 {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut lent = LENT.lock().unwrap_or_else(|e| e.into_inner());
    lent.get_or_insert_with(HashMap::new).insert(id, object);
    id
}

#[pyfunction]
pub fn release_routine(id: u64) {
    let removed = {
        let mut lent = LENT.lock().unwrap_or_else(|e| e.into_inner());
        lent.as_mut().and_then(|m| m.remove(&id))
    };
    drop(removed);
}

/// The registry entry that builds a [`PyRoutine`] from a lent object.
pub fn entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
            name: "python",
            summary: "A routine written in Python (a class with initialize and compute, or a function decorated with trialflow.routine).",
            matches: "",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[ParamDoc {
                name: "object",
                kind: "integer",
                default: "required",
                doc: "set by trialflow when a step is a Python routine object; not written by hand",
            }],
            example: "steps=[{'routine': 'detrend'}, MyRoutine()]  # in trialflow.compute or trialflow.run",
        },
        build: build_python_routine,
    }
}

fn build_python_routine(
    params: Map<String, Value>,
) -> Result<Box<dyn ComputationalRoutine>, BuildError> {
    if let Some(key) = params.keys().find(|k| k.as_str() != "object") {
        return Err(BuildError::Params(format!(
            "unknown field `{key}`, expected `object`"
        )));
    }
    let id = params.get("object").and_then(Value::as_u64).ok_or_else(|| {
        BuildError::Params(
            "parameter `object`: a Python routine object, lent by trialflow.compute or trialflow.run"
                .into(),
        )
    })?;
    Python::attach(|py| {
        let object = {
            let lent = LENT.lock().unwrap_or_else(|e| e.into_inner());
            lent.as_ref()
                .and_then(|m| m.get(&id))
                .map(|o| o.clone_ref(py))
        }
        .ok_or_else(|| {
            BuildError::Params(format!(
                "parameter `object`: no Python routine {id} is lent at the moment"
            ))
        })?;
        let bound = object.bind(py);
        let describe = |e: PyErr| BuildError::Params(python_message(py, &e));
        let channel_independent: bool = bound
            .getattr("channel_independent")
            .and_then(|v| v.extract())
            .map_err(describe)?;
        let cfg_json: String = bound
            .call_method0("cfg_json")
            .and_then(|v| v.extract())
            .map_err(describe)?;
        let cfg = serde_json::from_str(&cfg_json)
            .map_err(|e| BuildError::Params(format!("the routine's cfg is not JSON: {e}")))?;
        Ok(Box::new(PyRoutine {
            object: Arc::new(object),
            cfg,
            channel_independent,
        }) as Box<dyn ComputationalRoutine>)
    })
}

/// `TypeName: message`, the one line a Python exception becomes in trialflow's messages.
fn python_message(py: Python<'_>, e: &PyErr) -> String {
    let name = e
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    let text = e.value(py).to_string();
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        name
    } else {
        format!("{name}: {line}")
    }
}

struct PyRoutine {
    /// Shared with its kernels, which call `compute_trial` on it.
    object: Arc<Py<PyAny>>,
    cfg: Value,
    channel_independent: bool,
}

/// A Python routine's computation: its object's `compute_trial`, with the GIL held.
struct PyKernel {
    object: Arc<Py<PyAny>>,
}

impl ComputationalRoutine for PyRoutine {
    fn name(&self) -> &str {
        "python"
    }

    fn cfg(&self) -> Value {
        self.cfg.clone()
    }

    fn channel_independent(&self) -> bool {
        self.channel_independent
    }

    /// Asks Python once per distinct trial shape; the adapter refuses shapes that are not
    /// (samples, channels) with the input's channels.
    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        Python::attach(|py| {
            let mut known: HashMap<&[usize], Vec<usize>> = HashMap::new();
            let mut shapes = Vec::with_capacity(input.trial_shapes.len());
            for (trial, shape) in input.trial_shapes.iter().enumerate() {
                if let Some(out) = known.get(shape.as_slice()) {
                    shapes.push(out.clone());
                    continue;
                }
                let out: Vec<usize> = self
                    .object
                    .call_method1(
                        py,
                        "initialize_trial",
                        (shape.clone(), input.samplerate, trial),
                    )
                    .and_then(|v| v.extract(py))
                    .map_err(|e| RoutineError::invalid(python_message(py, &e)))?;
                known.insert(shape.as_slice(), out.clone());
                shapes.push(out);
            }
            Ok(OutputShape::dense(DataKind::Analog, shapes))
        })
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(PyKernel {
            object: Arc::clone(&self.object),
        }))
    }
}

impl Kernel for PyKernel {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let mut out = output.dense_mut();
        Python::attach(|py| {
            let trial = PyArrayDyn::from_array(py, &input.data);
            let result = self
                .object
                .call_method1(
                    py,
                    "compute_trial",
                    (
                        trial,
                        input.trial,
                        input.channels.start,
                        input.channels.end,
                        out.shape().to_vec(),
                    ),
                )
                .map_err(|e| RoutineError::failed(python_message(py, &e)))?;
            let array: PyReadonlyArrayDyn<'_, f64> = result.extract(py).map_err(|_| {
                RoutineError::failed("compute returned something other than a float64 array")
            })?;
            if array.shape() != out.shape() {
                return Err(RoutineError::invalid(format!(
                    "compute returned shape {:?}; initialize declared {:?}",
                    array.shape(),
                    out.shape()
                )));
            }
            out.assign(&array.as_array());
            Ok(())
        })
    }
}
