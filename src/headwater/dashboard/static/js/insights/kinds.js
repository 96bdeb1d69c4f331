// The insight kinds, each a module with fromParams, query, toParams, describe, form, run, render.

import * as funnel from "./funnel.js";
import * as paths from "./paths.js";
import * as retention from "./retention.js";
import * as trend from "./trend.js";
import * as web from "./web.js";

export const KINDS = { trend, funnel, retention, paths, web };
