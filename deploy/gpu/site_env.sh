# Sourced by the deploy/gpu scripts: makes the carried site (.gpu/site.tar.xz) importable on a
# machine that has PyTorch but not our other packages, and sets LN (lipo-node, GPU sub-commands).
PY=${PY:-python3}
if [ -f .gpu/site.tar.xz ] && ! $PY -c "import nnunetv2" 2>/dev/null; then
  mkdir -p /tmp/site && xz -dc -T0 .gpu/site.tar.xz | tar xf - -C /tmp/site
  export PYTHONPATH=/tmp/site
  # the site holds no .dist-info (size); pydicom & co. read their version from package metadata
  for nv in acvl_utils-0.2.6 annotated_types-0.8.0 batchgenerators-0.25.5 batchgeneratorsv2-0.3.6 blosc2-4.14.1 python_dotenv-1.2.4 dynamic_network_architectures-0.4.4 highdicom-0.28.2 nibabel-5.4.2 nnunetv2-2.8.1 pydantic-2.14.4 pydantic_settings-2.16.3 pydicom-3.0.2 pynetdicom-3.0.4 typing_inspection-0.4.5 connected_components_3d-4.1.1 pydantic_core-2.50.5 numexpr-2.14.2 ndindex-1.10.1 simpleitk-2.5.7; do
    mkdir -p "/tmp/site/$nv.dist-info"; printf 'Metadata-Version: 2.1\nName: %s\nVersion: %s\n' "${nv%-*}" "${nv##*-}" > "/tmp/site/$nv.dist-info/METADATA"
  done
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg nnUNet_compile=false
LN="$PY deploy/gpu/ln.py"  # lipo-node with the sub-commands whose imports travel
