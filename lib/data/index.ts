// The data pipeline's public API: NIfTI io, reorientation, preprocessing, BraTS recipes, dataset files, phantom.
export { DataError } from './errors';
export { readNifti, readNiftiInfo, parseNiftiHeader, niftiLayout, niftiAffine, encodeNifti, writeNifti, affineToQform, DATATYPES } from './nifti';
export type { NiftiHeader, NiftiInfo, NiftiVolume, NiftiWriteOptions } from './nifti';
export { rasAxes, rasView, rasShape, axialSlice, resampleIso, isoShape } from './orient';
export type { RasView } from './orient';
export { percentiles, volumeScaling, applyScaling, resizeBilinear, fitSlice, fittedSize } from './preprocess';
export type { Scaling, FitMode } from './preprocess';
export { RECIPES, CONTRASTS, scanBrats, selectBrats, parseRange, parseContrasts } from './brats';
export type { Recipe, Contrast, BratsSubject } from './brats';
export { openDataset, readDatasetHeader, DatasetWriter, permutation, MAGIC as DATASET_MAGIC } from './dataset';
export type { Dataset, DatasetHeader, SliceRecord, SourceRecord, SliceDType } from './dataset';
export { prepareDataset, writePreview, pngSources, niftiSources } from './prepare';
export type { PrepareOptions, PrepareResult, PrepareSource } from './prepare';
export { readPngGray, writePngGray, tileGrid } from './png';
export { phantomSubject, writePhantom, phantomSubjectId, BRATS_SHAPE } from './phantom';
export type { PhantomOptions, PhantomSubject, PhantomSubjectParams } from './phantom';
