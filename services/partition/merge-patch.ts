type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * RFC 7396 JSON Merge Patch, applied to `target` in place: `target` must be
 * the caller's own (just parsed, or copied), since its objects are changed.
 * Returns the result (`target` itself when both are objects). `null` in the
 * patch removes a member; a non-object patch replaces the target entirely.
 * The patch's own objects are copied into the result, never shared, so a
 * later patch of the result never changes the patch. Costs one step per
 * member of the patch, whatever the size of the target.
 */
export function mergePatchInPlace(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: Record<string, Json> = isObject(target) ? target : {};
  for (const key of Object.keys(patch)) {
    const value = patch[key]!;
    if (value === null) {
      delete result[key];
    } else {
      result[key] = mergePatchInPlace(result[key], value) as Json;
    }
  }
  return result;
}
